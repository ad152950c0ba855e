"""The auth rows of the conformance table: ``rpcdemo server --auth-public-key`` answers as
the Rust server with auth configured (resonatehq/resonate @c8d7c7ba, ``src/auth.rs``,
``src/server.rs``), over real HTTP against a real server process.

Each case sends one request with a token (or none) and checks the status the Rust
server answers; for a refusal, that nothing the request named changed (read back
with an admin token). Tokens are minted here with PyJWT on keys made here.
"""

from __future__ import annotations

import itertools
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.procs import PYTHON, ProcGroup, free_port, short_home, spawn, wait_until
from tests.protocol.cases import FAR, TARGET

pytestmark = pytest.mark.e2e

VERSION = "2026-04-01"
_corr = itertools.count()


@dataclass(frozen=True)
class Keys:
    """The server's key and a stranger's (for the wrong-key case)."""

    key: ed25519.Ed25519PrivateKey
    other: ed25519.Ed25519PrivateKey

    def token(self, claims: dict[str, Any], key: ed25519.Ed25519PrivateKey | None = None
              ) -> str:
        return jwt.encode({"exp": int(time.time()) + 600, **claims}, key or self.key,
                          algorithm="EdDSA")


def post(url: str, kind: str, data: Any, token: str | None) -> tuple[int, Any]:
    """One envelope to ``POST /`` with ``token`` in ``head.auth``; ``(head status, data)``."""
    head: dict[str, Any] = {"corrId": f"a{next(_corr)}", "version": VERSION}
    if token is not None:
        head["auth"] = token
    body = json.dumps({"kind": kind, "head": head, "data": data}).encode()
    req = urllib.request.Request(url + "/", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw, http = resp.read(), resp.status
    except urllib.error.HTTPError as exc:
        raw, http = exc.read(), exc.code
    obj = json.loads(raw)
    status = int(obj["head"]["status"])
    assert http == status or (http == 200 and status < 400), (http, obj)
    return status, obj.get("data")


def get(url: str, path: str, token: str | None, timeout: float = 5.0) -> int:
    """``GET path`` with a bearer ``token``; the HTTP status (the stream is not read)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(url + path, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def server(keys: Keys) -> Iterator[str]:
    """``rpcdemo server --memory --auth-public-key PEM`` on a free port; its URL."""
    with short_home() as home:
        Path(home).mkdir(parents=True, exist_ok=True)
        pem = Path(home) / "public.pem"
        pem.write_bytes(keys.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        port = free_port()
        procs = ProcGroup()
        try:
            proc = procs.add(spawn(
                [PYTHON, "-m", "resonate_rpc_cli", "server", "--port", str(port), "--memory",
                 "--auth-public-key", str(pem)],
                Path(home) / "server.log", env={"RPCDEMO_HOME": str(home)}, name="server"))
            url = f"http://127.0.0.1:{port}"
            wait_until(lambda: get(url, "/health", None) == 200 or
                       (not proc.alive() and proc.output()[-500:]), 20, f"server on {url}")
            yield url
        finally:
            procs.close()


def admin(keys: Keys) -> str:
    return keys.token({"role": "admin"})


def create(pid: str, target: bool = False) -> tuple[str, dict[str, Any]]:
    tags = {"resonate:target": TARGET} if target else {}
    return "promise.create", {"id": pid, "timeoutAt": FAR, "param": {}, "tags": tags}


Token = Callable[[Keys, str], str | None]


@dataclass(frozen=True)
class AuthCase:
    """``kind``/``data`` sent with ``token`` after ``setup`` (sent as admin)."""

    name: str
    rule: str
    token: Token
    kind: str
    data: Callable[[str], dict[str, Any]]
    status: int | tuple[int, ...]
    setup: Callable[[str], list[tuple[str, dict[str, Any]]]] = field(default=lambda o: [])


def _none_alg(keys: Keys, o: str) -> str:
    return jwt.encode({"exp": int(time.time()) + 600, "role": "admin"}, "", algorithm="none")


def _acquired_pair(o: str) -> list[tuple[str, dict[str, Any]]]:
    """Two acquired tasks: ``o-mine`` (inside the prefix ``o-m``) and ``o-yours``."""
    out: list[tuple[str, dict[str, Any]]] = []
    for pid in (f"{o}-mine", f"{o}-yours"):
        out += [create(pid, target=True),
                ("task.acquire", {"id": pid, "version": 0, "pid": "w1", "ttl": 60_000})]
    return out


CASES = [
    AuthCase("no_token", "src/auth.rs:121-131", lambda k, o: None,
             "promise.create", lambda o: create(o)[1], 401),
    AuthCase("malformed_token", "src/auth.rs:133-143", lambda k, o: "not-a-jwt",
             "promise.create", lambda o: create(o)[1], 401),
    AuthCase("empty_token", "src/auth.rs:133-143", lambda k, o: "",
             "promise.create", lambda o: create(o)[1], 401),
    AuthCase("wrong_key", "src/auth.rs:251-297", lambda k, o: k.token({"role": "admin"},
             k.other), "promise.create", lambda o: create(o)[1], 401),
    AuthCase("expired", "src/auth.rs:281 (validate_exp, 60 s leeway)",
             lambda k, o: k.token({"role": "admin", "exp": int(time.time()) - 120}),
             "promise.create", lambda o: create(o)[1], 401),
    AuthCase("no_exp", "src/auth.rs:282-284 (exp required)",
             lambda k, o: jwt.encode({"role": "admin"}, k.key, algorithm="EdDSA"),
             "promise.create", lambda o: create(o)[1], 401),
    AuthCase("alg_none_with_key", "src/auth.rs:254-261 (alg not in the key's set)",
             _none_alg, "promise.create", lambda o: create(o)[1], 401),
    AuthCase("admin", "src/auth.rs:148-153", lambda k, o: k.token({"role": "ADMIN"}),
             "promise.create", lambda o: create(o)[1], (200, 201)),
    AuthCase("admin_search", "src/auth.rs:148-153", lambda k, o: k.token({"role": "admin"}),
             "promise.search", lambda o: {"state": "pending"}, 200),
    AuthCase("prefix_allowed", "src/auth.rs:210-221", lambda k, o: k.token({"prefix": o}),
             "promise.create", lambda o: create(f"{o}-x")[1], (200, 201)),
    AuthCase("prefix_empty_allows_all", "src/auth.rs:180-183",
             lambda k, o: k.token({"prefix": ""}), "promise.create", lambda o: create(o)[1],
             (200, 201)),
    AuthCase("prefix_denied", "src/auth.rs:222-231",
             lambda k, o: k.token({"prefix": "elsewhere-"}), "promise.create",
             lambda o: create(o)[1], 403),
    AuthCase("no_prefix_claim", "src/auth.rs:157-167", lambda k, o: k.token({"role": "user"}),
             "promise.create", lambda o: create(o)[1], 403),
    AuthCase("null_prefix", "src/auth.rs:168-176", lambda k, o: k.token({"prefix": None}),
             "promise.create", lambda o: create(o)[1], 403),
    AuthCase("prefix_not_string", "src/auth.rs:235-243", lambda k, o: k.token({"prefix": 7}),
             "promise.create", lambda o: create(o)[1], 403),
    AuthCase("prefix_search_denied", "src/auth.rs:306 (searches fail closed)",
             lambda k, o: k.token({"prefix": o}), "task.search", lambda o: {}, 403),
    AuthCase("prefix_task_create_denied", "src/auth.rs:322-328 (action.data.id)",
             lambda k, o: k.token({"prefix": "elsewhere-"}), "task.create",
             lambda o: {"pid": "w1", "ttl": 60_000, "action": {
                 "kind": "promise.create", "head": {"corrId": "x", "version": VERSION},
                 "data": create(o, target=True)[1]}}, 403),
    AuthCase("heartbeat_own_ids", "src/auth.rs:186-208", lambda k, o: k.token({"prefix":
             f"{o}-m"}), "task.heartbeat",
             lambda o: {"pid": "w1", "tasks": [{"id": f"{o}-mine", "version": 1}]}, 200,
             setup=_acquired_pair),
    AuthCase("heartbeat_one_foreign_id", "src/auth.rs:186-208 (every id must match)",
             lambda k, o: k.token({"prefix": f"{o}-m"}), "task.heartbeat",
             lambda o: {"pid": "w1", "tasks": [{"id": f"{o}-mine", "version": 1},
                                              {"id": f"{o}-yours", "version": 1}]}, 403,
             setup=_acquired_pair),
    AuthCase("unknown_kind_prefix", "src/auth.rs:337-342 (unknown kinds fail closed)",
             lambda k, o: k.token({"prefix": o}), "promise.frobnicate",
             lambda o: {"id": o}, 403),
]


def snapshot(url: str, keys: Keys, o: str) -> list[tuple[int, Any]]:
    """Every record a case can touch, read as admin (a task's record includes its lease)."""
    token = admin(keys)
    ids = [o, f"{o}-x", f"{o}-mine", f"{o}-yours"]
    return [post(url, kind, {"id": i}, token) for i in ids for kind in ("promise.get",
                                                                        "task.get")]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_auth_case(server: str, keys: Keys, case: AuthCase) -> None:
    o = f"auth-{case.name.replace('_', '-')}"
    for kind, data in case.setup(o):
        status, resp = post(server, kind, data, admin(keys))
        assert status < 400, f"setup {kind} {data} answered {status} {resp}"
    allowed = case.status if isinstance(case.status, tuple) else (case.status,)
    refusal = min(allowed) >= 400
    before = snapshot(server, keys, o) if refusal else []
    status, resp = post(server, case.kind, case.data(o), case.token(keys, o))
    assert status in allowed, f"{case.rule}: expected {case.status}, got {status} {resp}"
    if refusal:
        word = "Unauthorized" if status == 401 else "Forbidden"
        assert resp in (word, {"error": word}), resp  # the data is Rust's message
        assert snapshot(server, keys, o) == before, "a refused request changed something"


def test_poll_needs_a_valid_bearer_token(server: str, keys: Keys) -> None:
    """src/server.rs:321-332: /poll authenticates the connection (no prefix check)."""
    assert get(server, "/poll/auth-g/p1", None) == 401
    assert get(server, "/poll/auth-g/p1", "garbage") == 401
    assert get(server, "/poll/auth-g/p1", keys.token({"role": "admin"}, keys.other)) == 401
    assert get(server, "/poll/auth-g/p1", keys.token({"prefix": "elsewhere-"})) == 200


def test_rpcdemo_endpoints_are_admin_only(server: str, keys: Keys) -> None:
    """Ours: /rpcdemo/* answers 401 without a valid token, 403 to a non-admin."""
    assert get(server, "/rpcdemo/info", None) == 401
    assert get(server, "/rpcdemo/info", keys.token({"prefix": ""})) == 403
    assert get(server, "/rpcdemo/info", admin(keys)) == 200
    assert get(server, "/health", None) == 200  # health and ready stay open, as in Rust


def test_a_flat_request_cannot_slip_past_auth(server: str, keys: Keys) -> None:
    """Without head/data our engine would read a flat request; with auth it is a 400."""
    body = json.dumps({"kind": "promise.create", "id": "auth-flat", "timeoutAt": FAR}).encode()
    req = urllib.request.Request(server + "/", data=body, method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(req, timeout=5)
    caught.value.close()
    assert caught.value.code == 400
    assert post(server, "promise.get", {"id": "auth-flat"}, admin(keys))[0] == 404
