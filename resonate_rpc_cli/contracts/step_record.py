"""rpcdemo's optional step helper for Python applications: record each run of a step.

Wrap a ``ctx.run`` leaf (the function a durable function hands to ``ctx.run``)::

    from resonate_rpc_cli.contracts.step_record import recorded

    @recorded
    async def debit(ctx, order_id, amount): ...

    result = await ctx.run(debit, order_id, amount)

Each run appends a ``start`` line before the step's body and an ``end`` line after it,
one JSON line each, fsync'd, to ``<dir>/<node>.<node_id>.jsonl`` in the ledger format
of ``contracts/ledger.py`` (``step_id`` and ``promise_id`` are the step's own promise
id). ``rpcdemo chaos`` then counts a step whose ``start`` came after its promise had
settled (re-executed after settle) or that started more than once before.

``<dir>`` is ``RPCDEMO_LEDGER_DIR``, else ``$RPCDEMO_HOME/ledger``; outside rpcdemo
(neither set) the helper records nothing and the step runs the same. The node is
``RPCDEMO_NODE`` (or ``RPCDEMO_NODE_NAME``), its id ``RPCDEMO_NODE_ID`` (else the OS
pid). Standard library only, so the file can also be copied into an application.
A line that cannot be written never fails the step (the step matters, not the record).
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


def ledger_path(env: Mapping[str, str] | None = None) -> Path | None:
    """Where this process's lines go (``None``: not under rpcdemo, record nothing)."""
    env = os.environ if env is None else env
    directory = env.get("RPCDEMO_LEDGER_DIR") or (
        str(Path(env["RPCDEMO_HOME"]) / "ledger") if env.get("RPCDEMO_HOME") else "")
    if not directory:
        return None
    node_id = env.get("RPCDEMO_NODE_ID") or f"pid{os.getpid()}"
    return Path(directory) / f"{node_name(env)}.{node_id}.jsonl"


def node_name(env: Mapping[str, str]) -> str:
    """The node's name as rpcdemo gave it (``orders-1``), else ``node``."""
    return env.get("RPCDEMO_NODE") or env.get("RPCDEMO_NODE_NAME") or "node"


def _write(phase: str, ctx: Any, func: str, args: tuple[Any, ...], value: Any) -> None:
    path = ledger_path()
    if path is None:
        return
    step_id = str(getattr(getattr(ctx, "info", None), "id", "") or "")
    line = {"ts": time.time(), "phase": phase, "node": node_name(os.environ),
            "node_id": path.name.split(".")[1], "os_pid": os.getpid(),
            "group": os.environ.get("RPCDEMO_GROUP", ""), "func": func,
            "promise_id": step_id, "step_id": step_id,
            "arg": list(args), "value": value}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, (json.dumps(line, separators=(",", ":"), sort_keys=True,
                                     default=str) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def recorded[F: Callable[..., Any]](fn: F) -> F:
    """``fn`` (sync or async, first parameter the context) with its runs recorded."""
    name = getattr(fn, "__name__", "step")
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def run_async(ctx: Any, *args: Any, **kwargs: Any) -> Any:
            _write("start", ctx, name, args, None)
            value = await fn(ctx, *args, **kwargs)
            _write("end", ctx, name, args, value)
            return value
        return run_async  # type: ignore[return-value]

    @functools.wraps(fn)
    def run_sync(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        _write("start", ctx, name, args, None)
        value = fn(ctx, *args, **kwargs)
        _write("end", ctx, name, args, value)
        return value
    return run_sync  # type: ignore[return-value]
