"""``main``: the ``rpcdemo`` console entry point, the quick path first, else Typer."""

from __future__ import annotations

import sys


def main() -> None:
    """Run ``rpcdemo`` with ``sys.argv``: the quick path (``cli/quick.py``) when it knows the
    command line, else the Typer app (``cli/app.py``), which then parses it all."""
    from resonate_rpc_cli.cli.quick import parse

    call = parse(sys.argv[1:])
    if call is not None:
        from resonate_rpc_cli.contracts.errors import exit_code_of

        sys.exit(exit_code_of("rpcdemo", call))
    from resonate_rpc_cli.cli.app import main as typer_main

    typer_main()
