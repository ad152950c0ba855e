"""clients/tokens.py: which token our own clients send, and the key pair's files."""

from __future__ import annotations

import stat
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from resonate_rpc_cli.clients import tokens
from resonate_rpc_cli.clients.protocol import ResonateClient
from resonate_rpc_cli.contracts.home import Home


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "_homes", {})
    monkeypatch.setattr(tokens, "_default", [])
    monkeypatch.setattr(tokens, "_minted", {})
    monkeypatch.delenv("RESONATE_TOKEN", raising=False)


def _claims(home: Home, token: str | None) -> dict[str, object]:
    assert token is not None
    key = load_pem_public_key(tokens.KeyPair.of(home).public.read_bytes())
    decoded: dict[str, object] = jwt.decode(token, key, algorithms=["EdDSA"])  # type: ignore[arg-type]
    return decoded


def test_without_a_key_the_environment_token_or_none(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    tokens.use_home(Home(tmp_path / "h"))
    assert tokens.server_token("http://x") is None
    assert ResonateClient("http://x").token is None
    monkeypatch.setenv("RESONATE_TOKEN", "from-env")
    assert tokens.server_token("http://x") == "from-env"
    assert ResonateClient("http://x").token == "from-env"


def test_a_home_with_a_key_signs_an_admin_token_once(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    home = Home(tmp_path / "h")
    pair = tokens.ensure_key_pair(home)
    assert stat.S_IMODE(pair.private.stat().st_mode) == 0o600
    assert tokens.ensure_key_pair(home).private.read_bytes() == pair.private.read_bytes()
    tokens.use_home(home)
    monkeypatch.setenv("RESONATE_TOKEN", "from-env")  # HOME's own key wins for its server
    first = tokens.server_token("http://x")
    assert _claims(home, first)["role"] == "admin"
    assert tokens.server_token("http://y") == first  # minted once per process


def test_a_registered_server_uses_its_own_home(tmp_path: Path) -> None:
    mine, other = Home(tmp_path / "a"), Home(tmp_path / "b")
    tokens.ensure_key_pair(other)
    tokens.use_home(mine)  # no key: reads of other servers send nothing
    tokens.serve_home("http://127.0.0.1:9/", other)
    assert tokens.server_token("http://elsewhere") is None
    assert _claims(other, tokens.server_token("http://127.0.0.1:9"))["role"] == "admin"


def test_node_tokens_cover_every_id_but_are_not_admin(tmp_path: Path) -> None:
    home = Home(tmp_path / "h")
    tokens.ensure_key_pair(home)
    claims = _claims(home, tokens.node_token(home))
    assert claims["prefix"] == "" and "role" not in claims
