"""``python -m resonate_rpc_cli``: the same as the ``rpcdemo`` command."""

from __future__ import annotations

from resonate_rpc_cli.cli import main

main()
