"""Exit codes and errors, in one place (like httpie's ``status.py``).

Every command maps its failures here; the numbers are a documented contract.
:func:`exit_code_of` is the one error-to-exit-code wrapper of every entry point
(the CLI's commands, the server, the gateway and the nodes).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import IntEnum


class ExitStatus(IntEnum):
    """Process exit codes of ``rpcdemo``."""

    OK = 0
    #: A flow failed or timed out; a chaos verdict of ``fail``.
    FAILED = 1
    #: Bad usage or input (Typer/Click's own code for usage errors too).
    USAGE = 2
    #: The topology is not running or not healthy; infrastructure could not start.
    NOT_RUNNING = 3


class RpcdemoError(Exception):
    """An error with a one-line message for the user and an exit status."""

    status: ExitStatus = ExitStatus.FAILED

    def __init__(self, message: str, status: ExitStatus | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class UsageError(RpcdemoError):
    status = ExitStatus.USAGE


class NotRunningError(RpcdemoError):
    status = ExitStatus.NOT_RUNNING


#: Exit code after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


def exit_code_of(prog: str, fn: Callable[[], int | None]) -> int:
    """Run ``fn`` and return the exit code of every rpcdemo entry point.

    ``fn``'s own result (``None`` is 0); for an :class:`RpcdemoError` its
    status, after one line ``<prog>: <message>`` on stderr; for Ctrl-C
    (:class:`KeyboardInterrupt`) 130 after ``<prog>: interrupted``. Anything
    else propagates.
    """
    try:
        return int(fn() or ExitStatus.OK)
    except RpcdemoError as exc:
        print(f"{prog}: {exc}", file=sys.stderr, flush=True)
        return int(exc.status)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr, flush=True)
        return INTERRUPTED
