"""Nodes and config on resonate-pg, without a database: readiness, URLs, the schema rule."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.postgres.preflight import schema_path
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig, validate_config
from services.config import ConfigError, NodeConfig
from services.pgsource import ListenWatch


class FakeConn:
    def __init__(self, notes: list[str]) -> None:
        self.notes = notes
        self.queries: list[str] = []

    async def execute(self, query: str, params: Sequence[Any] | None = None) -> Any:
        self.queries.append(query)
        return None

    async def notifies(self) -> AsyncIterator[Any]:
        for note in self.notes:
            yield note

    async def close(self) -> None:
        pass


class FakeSessions:
    def __init__(self) -> None:
        self.listen = FakeConn(["n1"])

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[Any]:
        yield FakeConn([])

    async def dedicated(self) -> Any:
        return self.listen

    async def close(self) -> None:
        pass


def test_a_node_is_connected_after_both_listens_and_a_drain_and_not_after_the_stream() -> None:
    connects: list[bool] = []

    async def scenario() -> None:
        watch = ListenWatch(FakeSessions(), lambda: connects.append(True))
        async with watch.session():
            pass
        assert not watch.connected  # a drain before LISTEN proves nothing
        conn = await watch.dedicated()
        await conn.execute('LISTEN "resonate_q_1"')
        async with watch.session():
            pass
        assert not watch.connected  # one of two addresses
        await conn.execute('LISTEN "resonate_q_2"')
        assert not watch.connected  # listening, but nothing drained since
        async with watch.session():
            pass
        assert watch.connected and connects == [True]
        async for _note in conn.notifies():
            pass
        assert not watch.connected  # the LISTEN stream ended (database restart)

    asyncio.run(scenario())


def test_node_and_topology_config_accept_a_postgres_url() -> None:
    url = "postgresql://postgres@127.0.0.1:5433/postgres?passfile=/h/pgpass"
    cfg = NodeConfig.from_env("service-a", {"RESONATE_URL": url})
    assert cfg.url == url
    with pytest.raises(ConfigError, match="postgresql://"):
        NodeConfig.from_env("service-a", {"RESONATE_URL": "ftp://x"})
    ext = validate_config(TopologyConfig(server_kind="external", server_url=url))
    assert ext.server_url == url and not ext.starts_server
    local = TopologyConfig(server_kind="postgres", server_port=5433)
    assert local.server_url == "postgresql://postgres@127.0.0.1:5433/postgres"
    assert local.starts_server
    with pytest.raises(UsageError, match="--memory"):
        validate_config(TopologyConfig(server_kind="postgres", memory=True))


def test_the_schema_file_is_required_and_its_error_says_where_it_comes_from(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RPCDEMO_RESONATE_SQL", raising=False)
    with pytest.raises(UsageError, match=r"github\.com/resonatehq/resonate-pg"):
        schema_path("")
    with pytest.raises(UsageError, match="no readable file"):
        schema_path(str(tmp_path / "nope.sql"))
    sql = tmp_path / "resonate.sql"
    sql.write_text("-- a schema\n")
    assert schema_path(str(sql)) == sql
    monkeypatch.setenv("RPCDEMO_RESONATE_SQL", str(sql))
    assert schema_path("") == sql
