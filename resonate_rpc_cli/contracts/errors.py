"""Exit codes, in one place (like httpie's ``status.py``).

Every command maps its failures here; the numbers are a documented contract.
"""

from __future__ import annotations

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
