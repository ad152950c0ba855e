"""The ``rpcdemo`` command line: Typer commands by family, the flow runner, the topology file.

``main`` (the console script) and ``app`` (the Typer app with every command, for
the CliRunner tests) are re-exported. ``app`` loads on first use: the quick
path (``cli/quick.py``) never imports Typer (issue 21).
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import TYPE_CHECKING

from resonate_rpc_cli.cli.entry import main

if TYPE_CHECKING:
    from resonate_rpc_cli.cli.common import app
else:

    class _Package(ModuleType):
        """``resonate_rpc_cli.cli.app`` is the Typer app, loaded on first use, as it was when
        this package imported it eagerly (importing the submodule ``cli.app`` binds its
        name here; the app keeps it)."""

        @property
        def app(self) -> object:
            from resonate_rpc_cli.cli.app import app

            return app

        @app.setter
        def app(self, _submodule: object) -> None:
            pass

    sys.modules[__name__].__class__ = _Package

__all__ = ["app", "main"]
