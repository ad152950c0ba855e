"""The two consoles the CLI prints to: results on stdout, progress and notices on stderr."""

from __future__ import annotations

from rich.console import Console

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
