"""A node's settings, read from the environment contract of ``contracts/naming.py``.

Pure: :meth:`NodeConfig.from_env` takes a mapping and either returns a
complete config or raises :class:`ConfigError` with a one-line message naming
the variable; the node prints it and exits with ``ExitStatus.USAGE`` (2).

Fault-injection knobs (off by default):

* ``RPCDEMO_STEP_DELAY`` (seconds, float >= 0): every step takes this long.
  ``RPCDEMO_DELAY_MODE`` says how:

  - ``work`` (default): a plain ``asyncio.sleep`` *inside* the step's
    ``ctx.run`` checkpoint. The node holds the task's lease meanwhile; if it
    dies, the next node re-does the step from its start (the ledger shows a
    second ``start`` for the same ``step_id``).
  - ``sleep``: a durable ``ctx.sleep`` *before* the checkpoint. The timer is a
    promise on the server; a node that dies meanwhile loses nothing, and the
    step itself runs once, after the timer fires.

* ``RPCDEMO_FAIL_FIRST=1``: every step raises on its first attempt (the first
  attempt of each ``step_id``, remembered across processes by a marker file in
  the ledger dir), inside the ``ctx.run`` checkpoint, where the SDK retries
  (a ``ctx.run`` child is a pure leaf; a function body that made a durable call
  is a workflow and would be rejected, not retried). The retry comes about 1 s
  later (the SDK's default policy).
* ``RPCDEMO_FAIL_ALWAYS=service-c,service-h``: the steps of the named groups
  raise on *every* attempt (the SDK retries with a growing backoff, so the flow
  stays pending: what ``rpcdemo doctor`` calls a failing step). Read by every
  node, so it can be set once in the environment of ``rpcdemo up``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from resonate_rpc_cli.contracts import naming as t
from resonate_rpc_cli.contracts import node_env
from resonate_rpc_cli.contracts.connectors import connector_of
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.node_env import NodeEnvError as ConfigError

__all__ = ["ConfigError", "NodeConfig"]

DEFAULT_URL = f"http://{t.DEFAULT_HOST}:{t.DEFAULT_SERVER_PORT}"


@dataclass(frozen=True)
class NodeConfig:
    """Everything a node needs to know, resolved once at start."""

    url: str
    group: str
    name: str
    node_id: str
    ledger_dir: Path
    ready_file: Path | None
    ttl_s: float
    step_delay_s: float
    delay_mode: str
    fail_first: bool
    fail_always: bool = False
    token: str | None = None

    @classmethod
    def from_env(
        cls, group: str, env: Mapping[str, str] | None = None, default_name: str | None = None
    ) -> NodeConfig:
        """Resolve the config of a node of ``group``; raise :class:`ConfigError` on bad values.

        Defaults: ``RESONATE_URL`` http://127.0.0.1:8001; name ``<group>-1``
        (``default_name`` overrides, e.g. ``gateway``); node id a fresh uuid4
        hex; ledger dir ``$RPCDEMO_HOME/ledger`` or ``./.rpcdemo/ledger``; no
        ready file; TTL 60 s; no delay; no injected failures.
        """
        env = os.environ if env is None else env
        url = env.get(t.ENV_URL, "").strip() or DEFAULT_URL
        if connector_of(url) is None:
            raise ConfigError(f"{t.ENV_URL} must be an http(s) URL or a postgresql:// "
                              f"database, got {url!r}")
        name = env.get(t.ENV_NODE_NAME, "").strip() or default_name or f"{group}-1"
        node_id = env.get(t.ENV_NODE_ID, "").strip() or uuid.uuid4().hex
        if any(c in node_id for c in "/: ") or not node_id.isprintable():
            raise ConfigError(f"{t.ENV_NODE_ID} must be printable, without '/', ':' or spaces")
        ledger_raw = env.get(t.ENV_LEDGER_DIR, "").strip()
        ledger_dir = Path(ledger_raw) if ledger_raw else Home.resolve(env=env).ledger_dir
        ready_raw = env.get(t.ENV_READY_FILE, "").strip()
        return cls(
            url=url.rstrip("/"),
            group=group,
            name=name,
            node_id=node_id,
            ledger_dir=ledger_dir.absolute(),
            ready_file=Path(ready_raw).absolute() if ready_raw else None,
            ttl_s=node_env.TTL.read(env),
            step_delay_s=node_env.STEP_DELAY.read(env),
            delay_mode=node_env.DELAY_MODE.read(env),
            fail_first=node_env.FAIL_FIRST.read(env),
            fail_always=group in _groups(env.get(t.ENV_FAIL_ALWAYS, "")),
            token=env.get("RESONATE_TOKEN") or None,
        )


def _groups(raw: str) -> set[str]:
    return {part.strip() for part in raw.split(",") if part.strip()}

