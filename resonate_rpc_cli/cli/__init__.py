"""The ``rpcdemo`` command line: Typer commands by family, the flow runner, the topology file.

``app`` and ``main`` are re-exported for the console script and the CliRunner tests.
"""

from resonate_rpc_cli.cli.app import main
from resonate_rpc_cli.cli.common import app

__all__ = ["app", "main"]
