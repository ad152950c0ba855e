"""Our embedded server (``python -m resonate_rpc_cli.server``), the default ``up --server``.

An HTTP server (see :mod:`.http`) with our extras: it alone keeps a retention
horizon (``--retain``) and releases a dead node's leases at once.
"""

from __future__ import annotations

import sys

from resonate_rpc_cli.backends.base import ServerSettings
from resonate_rpc_cli.backends.http import HttpServer
from resonate_rpc_cli.contracts.home import Home


class EmbeddedBackend(HttpServer):
    """Started by ``up`` on ``host:server_port``; store under HOME unless ``--memory``."""

    kind = "embedded"

    def check(self, settings: ServerSettings) -> None:
        return None  # every setting applies (it is the one that keeps a retention horizon)

    def server_command(self, settings: ServerSettings, home: Home
                       ) -> tuple[list[str], dict[str, str]]:
        store = ["--memory"] if settings.memory else ["--store", str(home.store_path)]
        retain = ["--retain", repr(settings.retain_s)] if settings.retain_s is not None else []
        argv = [sys.executable, "-m", "resonate_rpc_cli.server", "--host", settings.host,
                "--port", str(settings.server_port), *store, *retain]
        return argv, {}
