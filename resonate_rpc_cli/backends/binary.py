"""The real Resonate server (the ``resonate`` binary on PATH), ``up --server resonate``.

An HTTP server (see :mod:`.http`) without our extras: leases of a dead node
lapse after their TTL. ``up`` fails before anything starts (exit 3) when the
binary is not on PATH.
"""

from __future__ import annotations

import os
import sys

from resonate_rpc_cli.backends.base import Prepared, ServerSettings
from resonate_rpc_cli.backends.http import HttpServer
from resonate_rpc_cli.contracts.errors import NotRunningError
from resonate_rpc_cli.contracts.home import Home

RESONATE_BINARY = "resonate"
INSTALL_HINT = ("install it with `brew install resonatehq/tap/resonate` or a release binary "
                "from https://github.com/resonatehq/resonate/releases, or use --server embedded")


def resonate_binary() -> str | None:
    """The path of the real ``resonate`` binary on PATH, or None."""
    import shutil  # noqa: PLC0415  (with zlib, bz2, lzma: not for every read of a server)

    return shutil.which(RESONATE_BINARY, path=os.environ.get("PATH"))


class BinaryBackend(HttpServer):
    """Started by ``up`` under our guard, on ``host:server_port``."""

    kind = "resonate"

    def preflight(self, settings: ServerSettings, home: Home) -> Prepared:
        """NotRunningError (exit 3) when no ``resonate`` binary is on PATH."""
        if resonate_binary() is None:
            raise NotRunningError(f"--server resonate: no `resonate` binary on PATH; "
                                  f"{INSTALL_HINT}")
        return super().preflight(settings, home)

    def server_command(self, settings: ServerSettings, home: Home
                       ) -> tuple[list[str], dict[str, str]]:
        """argv and environment of the real Resonate server, run under our guard.

        ``resonate dev`` (in-memory) with ``memory``, else ``resonate serve`` on
        ``HOME/resonate.db``. The server reads its settings from ``RESONATE_*``
        variables (``__`` nests): bound to our host and port only, metrics off.
        """
        binary = resonate_binary() or RESONATE_BINARY
        # under our guard: the binary has no lifeline of its own (see binary_guard.py)
        argv = [sys.executable, "-m", "resonate_rpc_cli.supervisor.binary_guard", binary,
                "dev" if settings.memory else "serve"]
        env = {
            "RESONATE_SERVER__HOST": settings.host,
            "RESONATE_SERVER__BIND": settings.host,
            "RESONATE_SERVER__PORT": str(settings.server_port),
            "RESONATE_OBSERVABILITY__METRICS_PORT": "0",
        }
        if not settings.memory:
            env["RESONATE_STORAGE__TYPE"] = "sqlite"
            env["RESONATE_STORAGE__SQLITE__PATH"] = str(home.root / "resonate.db")
        return argv, env
