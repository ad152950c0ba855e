"""CliRunner tests for token auth: `up`'s exposure rule, `[server] auth`, and `rpcdemo token`."""

from __future__ import annotations

import socket
import stat
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from resonate_rpc_cli.clients.tokens import KeyPair, ensure_key_pair
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.server.__main__ import parse_args
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig
from tests.cli._fake_supervisor import rpcdemo
from tests.procs import free_port


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.5", "myhost.lan"])
def test_a_non_loopback_host_without_auth_is_refused(home: Path, host: str) -> None:
    code, out, err = rpcdemo(home, "up", "-d", "--host", host)
    assert code == 2, err
    assert f"--host {host}" in err and "--auth" in err and "--insecure" in err
    assert len(err.strip().splitlines()) == 1 and not out
    assert not home.exists(), "nothing is created"


def test_insecure_or_auth_lets_it_through(home: Path, captured: list[TopologyConfig]) -> None:
    code, _, err = rpcdemo(home, "up", "-d", "--host", "0.0.0.0", "--insecure")
    assert code == 3 and "captured" in err  # it went on to start
    assert "insecure" in err and "anyone who reaches it" in err
    code, _, err = rpcdemo(home, "up", "-d", "--host", "0.0.0.0", "--auth")
    assert code == 3 and "captured" in err and "insecure" not in err
    assert captured[-1].auth and not captured[-1].insecure


def test_loopback_needs_nothing(home: Path, captured: list[TopologyConfig]) -> None:
    for host in ("127.0.0.1", "127.0.0.2", "localhost"):
        code, _, err = rpcdemo(home, "up", "-d", "--host", host)
        assert code == 3 and "captured" in err, err


def test_auth_from_the_topology_file(home: Path, tmp_path: Path,
                                     captured: list[TopologyConfig]) -> None:
    path = tmp_path / "t.toml"
    path.write_text('[server]\nhost = "0.0.0.0"\nauth = true\n')
    code, _, err = rpcdemo(home, "up", "-d", "--config", str(path))
    assert code == 3 and "captured" in err and captured[-1].auth
    path.write_text('[server]\nauth = "yes"\n')
    code, _, err = rpcdemo(home, "up", "-d", "--config", str(path))
    assert code == 2 and "server.auth" in err


def test_auth_needs_the_embedded_server(home: Path) -> None:
    code, _, err = rpcdemo(home, "up", "-d", "--auth", "--server-url", "http://127.0.0.1:9")
    assert code == 2 and "--auth needs the embedded server" in err


def test_token_without_a_key_pair_is_a_usage_error(home: Path) -> None:
    code, out, err = rpcdemo(home, "token")
    assert code == 2 and "up --auth" in err and not out


def test_token_mints_what_the_server_verifies(home: Path) -> None:
    pair = ensure_key_pair(Home(home))
    assert stat.S_IMODE(pair.private.stat().st_mode) == 0o600
    assert stat.S_IMODE(pair.private.parent.stat().st_mode) == 0o700
    key = load_pem_public_key(pair.public.read_bytes())

    def claims(*args: str) -> dict[str, Any]:
        code, out, err = rpcdemo(home, "token", *args)
        assert code == 0, err
        decoded: dict[str, Any] = jwt.decode(out.strip(), key, algorithms=["EdDSA"],  # type: ignore[arg-type]
                                             options={"verify_aud": False})
        return decoded

    assert claims()["prefix"] == "" and "role" not in claims()
    assert claims("--prefix", "tenant-a/")["prefix"] == "tenant-a/"
    admin = claims("--admin", "--ttl", "1h")
    assert admin["role"] == "admin" and "prefix" not in admin
    assert 3500 < admin["exp"] - time.time() <= 3600
    assert claims("--iss", "me", "--aud", "api")["aud"] == ["api"]
    assert KeyPair.of(Home(home)).private.read_bytes() == pair.private.read_bytes()


@pytest.mark.parametrize(("args", "message"), [
    (["--admin", "--prefix", "a"], "cannot be used together"),
    (["--ttl", "soon"], "--ttl"),
    (["--ttl", "0"], "longer than 0"),
])
def test_token_bad_flags(home: Path, args: list[str], message: str) -> None:
    ensure_key_pair(Home(home))
    code, out, err = rpcdemo(home, "token", *args)
    assert code == 2 and message in err and not out


def test_server_with_a_bad_key_file_is_exit_2_and_binds_nothing(home: Path, tmp_path: Path
                                                                 ) -> None:
    port = free_port()
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    for pem, message in ((tmp_path / "missing.pem", "cannot read the auth public key"),
                         (junk, "unsupported or invalid public key")):
        code, _, err = rpcdemo(home, "server", "--memory", "--port", str(port),
                               "--auth-public-key", str(pem))
        assert code == 2 and message in err, err
        assert len(err.strip().splitlines()) == 1, err
        # a durable server too: the key is read before HOME or its store is created
        code, _, err = rpcdemo(home / "fresh", "server", "--port", str(port),
                               "--auth-public-key", str(pem))
        assert code == 2 and message in err and not (home / "fresh").exists(), err
    code, _, err = rpcdemo(home, "server", "--memory", "--auth-iss", "me")
    assert code == 2 and "need --auth-public-key" in err
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # nothing was left listening


def test_the_module_entry_point_takes_the_same_auth_flags(tmp_path: Path) -> None:
    config = parse_args(["--memory", "--auth-public-key", str(tmp_path / "k.pem"),
                         "--auth-iss", "me", "--auth-aud", "api"])
    assert (config.auth_public_key, config.auth_iss, config.auth_aud) == \
        (tmp_path / "k.pem", "me", "api")
    assert parse_args(["--memory"]).auth_public_key is None
