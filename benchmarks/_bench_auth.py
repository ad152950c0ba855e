"""Token auth for ``bench_server.py``: a key pair with a node and an admin token, and what
checking a token costs in-process."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from resonate_rpc_cli.server.auth import Authorizer


class Auth:
    """A key pair in ``tmp``: the public PEM the server verifies against, a node token
    (``prefix: ""``) and an admin token (for ``/rpcdemo/info``)."""

    def __init__(self, tmp: Path) -> None:
        key = ed25519.Ed25519PrivateKey.generate()
        self.pem = tmp / "auth-public.pem"
        self.pem.write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        exp = int(time.time()) + 3600
        self.node = jwt.encode({"exp": exp, "prefix": ""}, key, algorithm="EdDSA")
        self.admin = jwt.encode({"exp": exp, "role": "admin"}, key, algorithm="EdDSA")
        self.key = key


def verification_us(auth: Auth) -> tuple[float, float]:
    """In-process cost of checking one envelope (µs): with the token cached, and fresh."""
    checker = Authorizer.load(auth.pem)
    envelope = {"kind": "promise.get", "head": {"corrId": "c", "version": "2026-04-01",
                                                "auth": auth.node}, "data": {"id": "x"}}
    now = time.time()
    checker.check_envelope(envelope, now)
    n = 20_000
    started = time.perf_counter()
    for _ in range(n):
        checker.check_envelope(envelope, now)
    cached = (time.perf_counter() - started) / n * 1e6
    fresh = [jwt.encode({"exp": int(now) + 60 + i, "prefix": ""}, auth.key, algorithm="EdDSA")
             for i in range(300)]
    started = time.perf_counter()
    for token in fresh:
        checker.verify(token, now)
    return cached, (time.perf_counter() - started) / len(fresh) * 1e6
