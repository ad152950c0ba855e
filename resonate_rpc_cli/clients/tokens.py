"""Resonate tokens on our side: a topology's key pair under HOME, minting, and the
token our own clients send to a server.

``up --auth`` creates ``HOME/auth/private.pem`` (Ed25519, mode 0600, never logged
or printed) and ``HOME/auth/public.pem`` (what the server verifies against), then
gives every node a token (:func:`node_token`: ``prefix: ""``, the whole protocol but
not ``/rpcdemo/*``) and the CLI's own reads an admin token (:func:`server_token`).
Tokens are JWTs as the Rust server reads them: ``exp`` always, and either
``role: "admin"`` or a ``prefix`` claim. Failure: :func:`mint` raises
:class:`UsageError` when HOME has no key pair (``up --auth`` makes one).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import NotRequired, TypedDict

from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.record import Record

#: the SDKs read a node's token from this variable (``Resonate(token=...)`` otherwise)
ENV_TOKEN = "RESONATE_TOKEN"
AUTH_DIR = "auth"
PRIVATE_KEY = "private.pem"
PUBLIC_KEY = "public.pem"
ALGORITHM = "EdDSA"
#: a node lives as long as its topology: its token outlives any demo or soak
NODE_TTL_S = 30 * 86400.0
#: the CLI's admin tokens are minted per process and renewed before they expire
CLIENT_TTL_S = 3600.0


class KeyPair(Record):
    """The paths of one HOME's key pair."""

    private: Path
    public: Path

    @classmethod
    def of(cls, home: Home) -> KeyPair:
        return cls(home.root / AUTH_DIR / PRIVATE_KEY, home.root / AUTH_DIR / PUBLIC_KEY)

    def exists(self) -> bool:
        return self.private.is_file() and self.public.is_file()


def ensure_key_pair(home: Home) -> KeyPair:
    """HOME's key pair, generated (Ed25519) when absent; the private key is created
    0600 in a 0700 directory and never leaves it."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 (slow import)
    from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: PLC0415

    pair = KeyPair.of(home)
    if pair.exists():
        return pair
    pair.private.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    _write(pair.private, private, 0o600)
    _write(pair.public, public, 0o644)
    return pair


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


class Claims(TypedDict):
    """A token's claims, as Resonate reads them: admin (``role``) or a ``prefix``."""

    exp: int
    role: NotRequired[str]
    prefix: NotRequired[str]
    iss: NotRequired[str]
    aud: NotRequired[list[str]]


def mint(home: Home, *, admin: bool = False, prefix: str = "", ttl_s: float,
         iss: str | None = None, aud: str | None = None) -> str:
    """A token signed with HOME's private key: admin, or limited to ids starting with
    ``prefix`` (``""``: every id, but not ``/rpcdemo/*``), expiring in ``ttl_s``."""
    import jwt  # noqa: PLC0415 (slow import; most commands never mint)
    from cryptography.hazmat.primitives.serialization import (  # noqa: PLC0415
        load_pem_private_key,
    )

    pair = KeyPair.of(home)
    try:
        key = load_pem_private_key(pair.private.read_bytes(), password=None)
    except OSError:
        raise UsageError(f"no key pair under {home.root} (start the topology with "
                         "`rpcdemo up --auth`)") from None
    claims: Claims = {"exp": int(time.time() + ttl_s)}
    if admin:
        claims["role"] = "admin"
    else:
        claims["prefix"] = prefix
    if iss is not None:
        claims["iss"] = iss
    if aud is not None:
        claims["aud"] = [aud]
    return jwt.encode(claims, key, algorithm=ALGORITHM)  # type: ignore[arg-type]


def node_token(home: Home) -> str:
    """The token ``up --auth`` gives each node it starts (``RESONATE_TOKEN``)."""
    return mint(home, prefix="", ttl_s=NODE_TTL_S)


# -- the token our own clients send ---------------------------------------------------

_homes: dict[str, Home] = {}
_default: list[Home] = []
_minted: dict[Path, tuple[str, float]] = {}


def use_home(home: Home) -> None:
    """The CLI's HOME: its key (if any) signs the admin tokens of this process's reads."""
    _default[:] = [home]


def serve_home(server_url: str, home: Home) -> None:
    """``server_url`` is the server of ``home``'s topology (``up`` with auth on)."""
    _homes[server_url.rstrip("/")] = home


def server_token(server_url: str | None = None) -> str | None:
    """The token our clients send to ``server_url``: an admin token of the HOME that
    started it (else of the CLI's HOME, else ``$RPCDEMO_HOME``) when that HOME has a
    key pair, else ``$RESONATE_TOKEN``, else ``None`` (a server without auth)."""
    home = _homes.get((server_url or "").rstrip("/"))
    if home is None:
        home = _default[0] if _default else Home.resolve()
    pair = KeyPair.of(home)
    cached = _minted.get(pair.private)
    now = time.time()
    if cached is not None and cached[1] - now > CLIENT_TTL_S / 2:
        return cached[0]
    if not pair.private.is_file():
        return os.environ.get(ENV_TOKEN) or None
    token = mint(home, admin=True, ttl_s=CLIENT_TTL_S)
    _minted[pair.private] = (token, now + CLIENT_TTL_S)
    return token
