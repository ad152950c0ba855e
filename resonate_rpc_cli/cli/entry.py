"""``main``: the ``rpcdemo`` console entry point, the quick path first, else Typer."""

from __future__ import annotations

import sys


def main() -> None:
    """Run ``rpcdemo`` with ``sys.argv``: the recorded ``--help`` (``cli/helpcache.py``) when
    there is one, the quick path (``cli/quick.py``) when it knows the command line, else the
    Typer app (``cli/app.py``), which then parses it all."""
    args = sys.argv[1:]
    if _root_help(args):
        from resonate_rpc_cli.cli import helpcache

        digest = helpcache.key(args)
        if helpcache.show(digest):
            sys.exit(0)
        with helpcache.recording(digest):
            _typer_main()
    from resonate_rpc_cli.cli.quick import parse

    call = parse(args)
    if call is not None:
        from resonate_rpc_cli.contracts.errors import exit_code_of

        sys.exit(exit_code_of("rpcdemo", call))
    _typer_main()


def _root_help(args: list[str]) -> bool:
    """``--help``, after ``--home H`` or not: what ``helpcache`` answers."""
    if args[-1:] != ["--help"]:
        return False
    before = args[:-1]
    return not before or (len(before) == 2 and before[0] == "--home") or (
        len(before) == 1 and before[0].startswith("--home="))


def _typer_main() -> None:
    from resonate_rpc_cli.cli.app import main as typer_main

    typer_main()
