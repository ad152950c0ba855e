"""server/auth.py as pure logic: key families, iss/aud, expiry and the verified-token cache."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.server.auth import LEEWAY_S, Authorizer

PrivateKey = Any


def _pem(tmp_path: Path, key: PrivateKey) -> Path:
    path = tmp_path / "public.pem"
    path.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


def _envelope(token: str | None, kind: str = "promise.get", pid: str = "a") -> dict[str, Any]:
    head: dict[str, Any] = {"corrId": "c", "version": "2026-04-01"}
    if token is not None:
        head["auth"] = token
    return {"kind": kind, "head": head, "data": {"id": pid}}


@pytest.mark.parametrize(("make", "alg", "other_alg"), [
    (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "PS256", "ES256"),
    (lambda: ec.generate_private_key(ec.SECP256R1()), "ES256", "RS256"),
    (lambda: ec.generate_private_key(ec.SECP384R1()), "ES384", "EdDSA"),
    (ed25519.Ed25519PrivateKey.generate, "EdDSA", "ES256"),
])
def test_the_key_family_picks_the_algorithms(tmp_path: Path, make: Any, alg: str,
                                             other_alg: str) -> None:
    key = make()
    auth = Authorizer.load(_pem(tmp_path, key))
    assert alg in auth.algorithms and other_alg not in auth.algorithms
    token = jwt.encode({"exp": time.time() + 60, "role": "admin"}, key, algorithm=alg)
    assert auth.check_envelope(_envelope(token), time.time()) is None


def test_a_file_without_a_supported_public_key_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read"):
        Authorizer.load(tmp_path / "missing.pem")
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(UsageError, match="unsupported or invalid public key"):
        Authorizer.load(tmp_path / "junk.pem")
    with pytest.raises(UsageError, match="unsupported"):
        Authorizer.load(_pem(tmp_path, dsa.generate_private_key(key_size=2048)))


def test_iss_and_aud_are_required_when_configured(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    auth = Authorizer.load(_pem(tmp_path, key), iss="me", aud="api")
    now = time.time()

    def check(**claims: Any) -> tuple[int, str] | None:
        token = jwt.encode({"exp": now + 60, "role": "admin", **claims}, key, algorithm="EdDSA")
        return auth.check_envelope(_envelope(token), now)

    assert check(iss="me", aud=["api"]) is None
    assert check(iss="me", aud=["other", "api"]) is None
    assert check(aud=["api"]) == (401, "Unauthorized")
    assert check(iss="you", aud=["api"]) == (401, "Unauthorized")
    assert check(iss="me") == (401, "Unauthorized")
    # the Rust server's Claims read aud as a list of strings: a bare string does not decode
    assert check(iss="me", aud="api") == (401, "Unauthorized")


def test_expiry_has_the_rust_leeway_and_is_kept_by_the_cache(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    auth = Authorizer.load(_pem(tmp_path, key))
    now = time.time()
    token = jwt.encode({"exp": int(now) + 10, "prefix": ""}, key, algorithm="EdDSA")
    assert auth.check_envelope(_envelope(token), now) is None  # verified, now cached
    later = now + 10 + LEEWAY_S - 1
    assert auth.check_envelope(_envelope(token), later) is None  # within the leeway
    assert auth.check_envelope(_envelope(token), later + 5) == (401, "Unauthorized")
    stale = jwt.encode({"exp": int(now) - LEEWAY_S - 5, "prefix": ""}, key, algorithm="EdDSA")
    assert auth.check_envelope(_envelope(stale), now) == (401, "Unauthorized")


def test_prefix_rules_per_kind(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    auth = Authorizer.load(_pem(tmp_path, key))
    token = jwt.encode({"exp": time.time() + 60, "prefix": "ab"}, key, algorithm="EdDSA")
    now = time.time()
    assert auth.check_envelope(_envelope(token, pid="abc"), now) is None
    assert auth.check_envelope(_envelope(token, pid="xabc"), now) == (403, "Forbidden")
    head = {"corrId": "c", "version": "2026-04-01", "auth": token}
    callback = {"kind": "promise.register_callback", "head": head,
                "data": {"awaited": "abz", "id": "zzz"}}
    assert auth.check_envelope(callback, now) is None
    callback["data"] = {"awaited": "zz", "id": "abz"}
    assert auth.check_envelope(callback, now) == (403, "Forbidden")
    no_id = {"kind": "promise.get", "head": head, "data": {}}
    assert auth.check_envelope(no_id, now) is None  # nothing to check: validation answers


def test_not_an_envelope_is_refused_before_any_token_is_read(tmp_path: Path) -> None:
    auth = Authorizer.load(_pem(tmp_path, ed25519.Ed25519PrivateKey.generate()))
    now = time.time()
    assert auth.check_envelope([], now) is not None
    assert auth.check_envelope({"kind": "promise.get", "id": "a"}, now) is not None
    head = {"corrId": "c", "version": "2026-04-01"}
    for bad in ({**head, "auth": 7}, {"version": "2026-04-01"}, {**head, "version": "2025-01-01"}):
        refused = auth.check_envelope({"kind": "promise.get", "head": bad, "data": {}}, now)
        assert refused is not None and refused[0] == 400, bad
    refused = auth.check_envelope({"kind": "promise.get", "head": head, "data": []}, now)
    assert refused is not None and refused[0] == 400
    refused = auth.check_envelope({"kind": "promise.get", "head": head, "data": {}}, now)
    assert refused == (401, "Unauthorized")  # a good envelope without a token
