"""The Resonate tag names rpcdemo reads or writes, spelled once.

The SDK stamps these on every promise it creates (see ``resonate.resonate``
and ``resonate.effects``): ``origin`` is the root id of the call tree,
``branch``/``parent`` the promise that created it, ``target`` where its task
is delivered (a promise without one has no task), ``scope`` is ``local`` for a
``ctx.run`` checkpoint, ``timer`` is ``"true"`` for a durable sleep; ``delay``, ``schedule``
and ``prefix`` belong to delayed and scheduled promises (the server's validation and schedules).
"""

from __future__ import annotations

ORIGIN = "resonate:origin"
BRANCH = "resonate:branch"
PARENT = "resonate:parent"
TARGET = "resonate:target"
SCOPE = "resonate:scope"
TIMER = "resonate:timer"
DELAY = "resonate:delay"
SCHEDULE = "resonate:schedule"
PREFIX = "resonate:prefix"
