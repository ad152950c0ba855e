"""The console's token: one random secret per HOME, kept in ``HOME/console/token`` (0600).

Like Jupyter's, it travels in the URL the console prints; every request to the
console must carry it (``?token=`` or the ``X-Rpcdemo-Token`` header).
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
from pathlib import Path

from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.home import Home

TOKEN_BYTES = 24


def token_path(home: Home) -> Path:
    """Where the HOME's console token lives."""
    return home.root / "console" / "token"


def console_token(home: Home) -> str:
    """The HOME's token, created (0600, in a 0700 directory) on first use.

    Raises :class:`UsageError` when it cannot be read or written.
    """
    path = token_path(home)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_urlsafe(TOKEN_BYTES))
        os.chmod(path, 0o600)
        token = path.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise UsageError(f"cannot keep the console token at {path}: {exc.strerror}") from exc
    if len(token) < 16:
        raise UsageError(f"the console token at {path} is too short; delete the file")
    return token


def token_matches(expected: str, given: str | None) -> bool:
    """A constant-time comparison (``given`` None or empty never matches)."""
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())
