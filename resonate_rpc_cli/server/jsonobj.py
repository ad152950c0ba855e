"""``JsonObject``: a JSON object as decoded from a request or about to be encoded.

The server's one alias at the JSON boundary. A flat request (the envelope's
``data`` with ``kind`` and ``corrId``, :func:`resonate.connections.local.unwrap_request_envelope`)
and a flat response (what the SDK's ``ServerState`` and the kinds added here answer, before
:mod:`.wire` shapes it) are JSON objects whose keys depend on the kind: validation reads
them field by field (:mod:`.validation`) rather than converting each into a record, which
would cost every request a copy. Records the server owns are typed (the SDK's
``DurablePromise``/``Task``, :class:`~.schedules.ScheduleRecord`, the ``TypedDict`` shapes
of :mod:`.wire` and of ``/rpcdemo/info``).
"""

from __future__ import annotations

from typing import Any

JsonObject = dict[str, Any]
