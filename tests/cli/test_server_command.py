"""`rpcdemo server` and `python -m resonate_rpc_cli.server` share ServerConfig's defaults."""

from __future__ import annotations

import typer.main

from resonate_rpc_cli.cli import app
from resonate_rpc_cli.server.__main__ import parse_args
from resonate_rpc_cli.server.config import ServerConfig


def test_server_flags_default_to_server_config() -> None:
    command = typer.main.get_command(app)
    server = command.commands["server"]  # type: ignore[attr-defined]
    defaults = {p.name: p.default for p in server.params}
    d = ServerConfig()
    assert (defaults["host"], defaults["port"]) == (d.host, d.port)
    assert (defaults["stream_lifetime"], defaults["keepalive"]) == (d.stream_lifetime_s,
                                                                    d.keepalive_s)
    assert (defaults["hold_max"], defaults["hold_age"], defaults["max_body"]) == \
        (d.hold_max, d.hold_age_s, d.max_body_bytes)
    module = parse_args(["--memory"])
    assert (module.host, module.port, module.hold_max) == (d.host, d.port, d.hold_max)
