"""`init`: write the seed's topology and a template for one's own application to edit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from resonate_rpc_cli.cli.common import app, exit_on_error
from resonate_rpc_cli.contracts.errors import UsageError


@app.command()
@exit_on_error
def init(
    folder: Annotated[Path, typer.Argument(help="Where to write them (default: here).")]
        = Path("."),
    *,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that exist.")]
        = False,
) -> None:
    """Write rpcdemo.toml (a commented template for your own application; as written,
    `rpcdemo up` still runs the seed) and seed.toml (the built-in seed in the same format).

    Refuses (exit 2) to overwrite either without --force, and writes nothing then.
    """
    from resonate_rpc_cli.cli.topology_file import (
        DEFAULT_CONFIG_NAME,
        SEED_FILE,
        TEMPLATE_FILE,
        packaged_text,
    )

    if not folder.is_dir():
        raise UsageError(f"no such folder: {folder}")
    plan = {folder / DEFAULT_CONFIG_NAME: TEMPLATE_FILE, folder / SEED_FILE: SEED_FILE}
    there = [str(p) for p in plan if p.exists()]
    if there and not force:
        raise UsageError(f"{', '.join(there)} exist{'s' * (len(there) == 1)}; --force "
                         "overwrites")
    for path, source in plan.items():
        try:
            path.write_text(packaged_text(source), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
        typer.echo(f"wrote {path}")
