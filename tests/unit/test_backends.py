"""The backend seam: which backend a configuration gets, and that a new one is one registration.

A throwaway :class:`FakeBackend` is registered with one line and then drives
everything that differs between servers: the configuration's URL and checks,
the preflight of ``up``, the server's command line, readiness, lease release,
timers and the fork server's preload (through the real ``supervising``, which
builds a supervisor but starts no process).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from resonate_rpc_cli import backends
from resonate_rpc_cli.backends import EXTERNAL, Prepared, ReleaseOutcome, backend_for, register
from resonate_rpc_cli.backends import base as backend_base
from resonate_rpc_cli.backends.base import ServerSettings, Stoppable
from resonate_rpc_cli.backends.binary import BinaryBackend
from resonate_rpc_cli.backends.embedded import EmbeddedBackend
from resonate_rpc_cli.backends.http import HttpBackend
from resonate_rpc_cli.backends.postgres import PostgresBackend
from resonate_rpc_cli.clients.protocol import ReadClient, ResonateClient, WriteClient
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.naming import SERVER, NodeName
from resonate_rpc_cli.supervisor import runner, updown
from resonate_rpc_cli.supervisor.failover import ReleaseWorker
from resonate_rpc_cli.supervisor.fork.spawner import make_spawner
from resonate_rpc_cli.supervisor.node import Spawner
from resonate_rpc_cli.supervisor.processes import HttpReadinessProbe
from resonate_rpc_cli.supervisor.topology_config import (
    TopologyConfig,
    build_launch,
    parse_server_choice,
    validate_config,
)

ROOT = Path(__file__).resolve().parents[2]


def test_the_kind_picks_the_backend_and_external_goes_by_the_url_scheme() -> None:
    assert isinstance(backend_for("embedded"), EmbeddedBackend)
    assert isinstance(backend_for("resonate"), BinaryBackend)
    local = backend_for("postgres")
    assert isinstance(local, PostgresBackend) and local.started
    http = backend_for(EXTERNAL, "https://db:1")
    assert isinstance(http, HttpBackend) and not http.started
    db = backend_for(EXTERNAL, "PostgreSQL://u@db/x")
    assert isinstance(db, PostgresBackend) and not db.started
    assert backends.server_kinds() == ("embedded", "resonate", "postgres", "external")


def test_nothing_fits_is_the_usage_error_of_the_flag() -> None:
    with pytest.raises(UsageError, match=r"^--server must be one of embedded, resonate, "
                                         r"postgres, external, got 'docker'$"):
        backend_for("docker")
    with pytest.raises(UsageError, match=r"^--server-url must be an http:// or https:// URL "
                                         r"or a postgresql:// database, got 'ftp://x'$"):
        validate_config(TopologyConfig(server_kind=EXTERNAL, server_url="ftp://x"))


def test_each_backend_gives_the_url_and_refusals_it_always_gave() -> None:
    assert TopologyConfig(server_port=9).server_url == "http://127.0.0.1:9"
    assert TopologyConfig(server_kind="resonate", server_port=9).server_url == \
        "http://127.0.0.1:9"
    assert TopologyConfig(server_kind="postgres", server_port=9).server_url == \
        "postgresql://postgres@127.0.0.1:9/postgres"
    assert TopologyConfig(server_kind=EXTERNAL, server_url="http://h:1/").server_url == \
        "http://h:1"
    validate_config(TopologyConfig(retain_s=60.0))
    for kind in ("resonate", "postgres"):
        with pytest.raises(UsageError, match=r"--retain .* needs the embedded server"):
            validate_config(TopologyConfig(server_kind=kind, retain_s=60.0))
    with pytest.raises(UsageError, match="--memory does not go with --server postgres"):
        validate_config(TopologyConfig(server_kind="postgres", memory=True))
    validate_config(TopologyConfig(server_kind=EXTERNAL, server_url="postgresql://h/d",
                                   memory=True))


def test_the_read_side_follows_the_url() -> None:
    assert isinstance(backends.read_client("http://127.0.0.1:1"), ResonateClient)
    assert type(backends.read_client("postgresql://u@h:1/d")).__name__ == "PgReader"
    assert isinstance(backends.read_client("not a url"), ResonateClient)


def test_the_write_side_follows_the_url() -> None:
    assert isinstance(backends.write_client("http://127.0.0.1:1"), ResonateClient)
    assert type(backends.write_client("postgresql://u@h:1/d")).__name__ == "PgWriter"
    assert isinstance(backends.write_client("not a url"), ResonateClient)


# -- a new backend is one module plus one line of registration --------------------------


@dataclass
class FakeTimers:
    stopped: bool = False

    def stop(self, timeout_s: float = 2.0) -> None:
        self.stopped = True


#: every FakeTimers a FakeBackend started
STARTED: list[FakeTimers] = []


@dataclass
class FakeBackend:
    """What a new backend module would hold: every method of the Protocol, nothing else."""

    started: bool
    kind: str | None = "fake"
    connector: str | None = None

    def server_url(self, settings: ServerSettings) -> str:
        return f"fake://{settings.host}:{settings.server_port}"

    def check(self, settings: ServerSettings) -> None:
        if settings.memory:
            raise UsageError("--memory does not go with --server fake")

    def preflight(self, settings: ServerSettings, home: Home) -> Prepared:
        return Prepared(settings.server_url, "fake.sql")

    def server_command(self, settings: ServerSettings, home: Home
                       ) -> tuple[list[str], dict[str, str]]:
        return ["fake-server", str(settings.server_port)], {"FAKE_HOME": str(home.root)}

    def reader(self, url: str, timeout_s: float) -> ReadClient:
        return ResonateClient(url, timeout_s)

    def writer(self, url: str, timeout_s: float) -> WriteClient:
        return ResonateClient(url, timeout_s)

    def releaser(self, url: str) -> backend_base.Release:
        return lambda node, node_id: ReleaseOutcome(node, node_id, ("t1",), f"fake via {url}")

    def start_timers(self, url: str) -> Stoppable | None:
        STARTED.append(FakeTimers())
        return STARTED[-1]

    def ready(self, url: str) -> bool:
        return url.startswith("fake://")

    def preload(self) -> tuple[str, ...]:
        return ("fake_connector",)


@pytest.fixture
def fake_registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(backend_base, "_REGISTRY", list(backend_base._REGISTRY))
    register(FakeBackend)  # the one line a new backend adds to backends/__init__.py
    yield


@pytest.mark.usefixtures("fake_registered")
def test_a_registered_fake_backend_drives_config_launch_and_preflight(tmp_path: Path) -> None:
    assert "fake" in backends.server_kinds()
    assert parse_server_choice("fake") == "fake", "`up --server fake` takes it"
    with pytest.raises(UsageError, match=r"^--server must be embedded, resonate, postgres or "
                       r"fake, got 'docker' \(a running server: --server-url URL\)$"):
        parse_server_choice("docker")
    home = Home(tmp_path)
    config = validate_config(TopologyConfig(server_kind="fake", server_port=7))
    assert isinstance(config.backend, FakeBackend) and config.starts_server
    assert config.server_url == "fake://127.0.0.1:7"
    with pytest.raises(UsageError, match="--server fake"):
        validate_config(TopologyConfig(server_kind="fake", memory=True))
    spec = build_launch(config, home, NodeName(SERVER, 1), incarnation=1, node_id="n",
                        parent_pid=1)
    assert spec.argv == ["fake-server", "7"] and spec.env["FAKE_HOME"] == str(tmp_path)
    prepared = updown.check_server_choice(config, home)
    assert (prepared.server_url, prepared.resonate_sql) == \
        ("fake://127.0.0.1:7", "fake.sql")
    assert HttpReadinessProbe(config, config.backend).ready(spec)


@pytest.mark.usefixtures("fake_registered")
def test_the_supervisor_runs_on_what_the_fake_backend_brings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    preloads: list[tuple[str, ...]] = []
    def recording(home: Home, preload: tuple[str, ...] = ()) -> Spawner:
        preloads.append(preload)
        return make_spawner(home, preload)

    monkeypatch.setenv("RPCDEMO_SPAWN", "plain")  # no fork server: nothing is started
    monkeypatch.delenv("RPCDEMO_NO_FAILOVER", raising=False)
    monkeypatch.setattr(runner, "make_spawner", recording)
    config = validate_config(TopologyConfig(server_kind="fake", only=["gateway"]))
    STARTED.clear()
    with runner.supervising(Home(tmp_path), config) as run:
        assert preloads == [("fake_connector",)]
        assert [t.stopped for t in STARTED] == [False]
        releaser = run.sup.releaser
        assert isinstance(releaser, ReleaseWorker)
        releaser.release("service-b-1", "dead")
        releaser.close()
        [outcome] = releaser.outcomes()
        assert outcome.released == ("t1",) and outcome.detail == f"fake via {config.server_url}"
        probe = run.sup.probe
        assert isinstance(probe, HttpReadinessProbe) and isinstance(probe.backend, FakeBackend)
    assert [t.stopped for t in STARTED] == [True]


def test_outside_the_backends_no_code_asks_which_server_it_is() -> None:
    """No ``is_postgres_url`` anywhere; ``server_kind`` compared only inside ``backends/``
    (the configuration layer may parse the value and hand it on)."""
    asks = re.compile(r"is_postgres_url|server_kind\s*(?:[!=]=|in\b|not in\b)")
    found = []
    for package in ("resonate_rpc_cli", "services"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "backends" in path.relative_to(ROOT).parts:
                continue
            found += [f"{path.relative_to(ROOT)}:{n}" for n, line in
                      enumerate(path.read_text().splitlines(), 1) if asks.search(line)]
    assert found == []
