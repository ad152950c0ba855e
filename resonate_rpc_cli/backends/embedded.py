"""Our embedded server (``python -m resonate_rpc_cli.server``), the default ``up --server``.

An HTTP server (see :mod:`.http`) with our extras: it alone keeps a retention
horizon (``--retain``) and releases a dead node's leases at once.
"""

from __future__ import annotations

import sys

from resonate_rpc_cli.backends.base import ServerSettings, refuse_exposure
from resonate_rpc_cli.backends.http import HttpServer
from resonate_rpc_cli.clients.tokens import KeyPair
from resonate_rpc_cli.contracts.home import Home


class EmbeddedBackend(HttpServer):
    """Started by ``up`` on ``host:server_port``; store under HOME unless ``--memory``."""

    kind = "embedded"

    def check(self, settings: ServerSettings) -> None:
        # every other setting applies (it is the one that keeps a retention horizon)
        refuse_exposure(settings, tokens=True, listens=True)

    def server_command(self, settings: ServerSettings, home: Home
                       ) -> tuple[list[str], dict[str, str]]:
        store = ["--memory"] if settings.memory else ["--store", str(home.store_path)]
        retain = ["--retain", repr(settings.retain_s)] if settings.retain_s is not None else []
        auth = ["--auth-public-key", str(KeyPair.of(home).public)] if settings.auth else []
        # the journal of leases and settlements the chaos checker reads (chaos/measures.py)
        argv = [sys.executable, "-m", "resonate_rpc_cli.server", "--host", settings.host,
                "--port", str(settings.server_port), *store,
                "--journal", str(home.transitions_path), *retain, *auth]
        return argv, {}
