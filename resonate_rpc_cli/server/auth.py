"""Resonate's token auth on the embedded server: the Rust server's rules and answers.

With ``--auth-public-key PEM`` every request is checked as ``src/auth.rs`` and
``src/server.rs`` of resonatehq/resonate check it:

* ``POST /``: the JWT in the envelope's ``head.auth`` must verify against the key
  (RSA: RS/PS 256-512; EC: ES256/ES384; Ed25519: EdDSA — picked by the key's
  type; ``alg: none`` and any other algorithm are refused), carry ``exp`` (60 s
  leeway, as jsonwebtoken's default), and ``iss``/``aud`` when configured;
  else **401**. A ``role`` of ``admin`` (any case) may do anything; otherwise a
  string ``prefix`` claim must start every resource id of the request (``""``
  allows all), else **403**: searches and unknown kinds fail closed, and every
  id of a ``task.heartbeat`` must match.
* ``GET /poll/…``: ``Authorization: Bearer <jwt>`` must verify (401 otherwise);
  no prefix check (the stream carries no resource id).
* ``/rpcdemo/*`` (ours): the bearer token must verify (401) and be admin (403).

A verified token is cached with its claims until it expires, so a node sending
the same token on every request costs one dict lookup after the first.
Failure: :meth:`Authorizer.load` raises :class:`UsageError` (one line) for a
key file that cannot be read or holds no supported public key.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web
from aiohttp.typedefs import Middleware
from resonate_base import PROTOCOL_VERSION

from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.server import wire
from resonate_rpc_cli.server.config import ServerConfig
from resonate_rpc_cli.server.response import error_response

_json = msgspec.json.Encoder()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: jsonwebtoken's default ``Validation::leeway`` (seconds), which the Rust server keeps.
LEEWAY_S = 60
#: Verified tokens remembered at most (the cache is cleared when full).
CACHE_MAX = 4096
#: src/types.rs ``SUPPORTED_VERSIONS`` (checked before the token, as server.rs does)
SUPPORTED_VERSIONS = (PROTOCOL_VERSION,)
UNAUTHORIZED = (401, "Unauthorized")
FORBIDDEN = (403, "Forbidden")

#: kinds whose resource id is ``data.id`` (auth.rs ``extract_resource_id``)
_BY_ID = frozenset({
    "promise.get", "promise.create", "promise.settle", "task.get", "task.acquire",
    "task.release", "task.fulfill", "task.suspend", "task.fence", "task.halt",
    "task.continue", "schedule.get", "schedule.delete",
})
_BY_AWAITED = frozenset({"promise.register_callback", "promise.register_listener"})


@dataclass(frozen=True)
class Claims:
    """What a verified token grants: ``admin``, else ``prefix`` (``None``: nothing)."""

    admin: bool
    prefix: str | None
    exp: float


class Authorizer:
    """Verifies tokens against one public key; decides 401/403 as the Rust server does."""

    def __init__(self, key: Any, algorithms: list[str], iss: str | None = None,
                 aud: str | None = None) -> None:
        self.key = key
        self.algorithms = algorithms
        self.iss = iss
        self.aud = aud
        self._cache: dict[str, Claims] = {}

    @classmethod
    def load(cls, path: Path, iss: str | None = None, aud: str | None = None) -> Authorizer:
        """The authorizer for the PEM public key at ``path``; ``UsageError`` if unusable."""
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read the auth public key {path}: "
                             f"{exc.strerror or exc}") from None
        # PyJWT and cryptography cost ~0.2 s of a server's start: only a server with a key
        # loads them (issue 21: restart time)
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa  # noqa: PLC0415
        from cryptography.hazmat.primitives.serialization import (  # noqa: PLC0415
            load_pem_public_key,
        )

        try:
            key = load_pem_public_key(pem)
        except (ValueError, TypeError):
            key = None
        if isinstance(key, rsa.RSAPublicKey):
            algorithms = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
        elif isinstance(key, ec.EllipticCurvePublicKey):
            algorithms = ["ES256", "ES384"]
        elif isinstance(key, ed25519.Ed25519PublicKey):
            algorithms = ["EdDSA"]
        else:
            raise UsageError(f"unsupported or invalid public key in {path}: supported "
                             "types are RSA, EC (P-256/P-384) and Ed25519 (PEM)")
        return cls(key, algorithms, iss, aud)

    # -- the hooks in the request path ----------------------------------------------

    def refuse(self, envelope: Any) -> web.Response | None:
        """``None`` if ``POST /``'s envelope may proceed, else the error envelope to send
        (``kind`` and ``corrId`` echoed, as ``ResponseEnvelope::error`` does)."""
        refused = self.check_envelope(envelope, time.time())
        if refused is None:
            return None
        kind = corr_id = None
        if isinstance(envelope, dict):
            kind, head = envelope.get("kind"), envelope.get("head")
            corr_id = head.get("corrId") if isinstance(head, dict) else None
        body = _json.encode(wire.envelope(error_response(kind, corr_id, *refused)))
        return web.Response(body=body, status=refused[0], content_type="application/json")

    def middleware(self) -> Middleware:
        """aiohttp middleware: ``/poll/…`` needs a valid bearer token (401 plain text, as
        the Rust server answers), ``/rpcdemo/…`` an admin's (401/403 ``{"error"}``)."""

        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            path = request.path
            if path.startswith("/poll/"):
                if self.check_bearer(request.headers.get("Authorization"), time.time()):
                    return web.Response(status=401, text="Unauthorized")
            elif path.startswith("/rpcdemo/"):
                refused = self.check_bearer(request.headers.get("Authorization"),
                                            time.time(), admin=True)
                if refused is not None:
                    return web.json_response({"error": refused[1]}, status=refused[0])
            return await handler(request)

        return guard

    # -- the three checks --------------------------------------------------------

    def check_envelope(self, envelope: Any, now: float) -> tuple[int, str] | None:
        """``None`` if the request may proceed, else ``(status, message)`` to answer.

        A body that is not a protocol envelope (or names another protocol version)
        is refused with 400 before any token is read, as the Rust server does, so
        nothing reaches the engine unchecked.
        """
        if not isinstance(envelope, dict):
            return 400, "Invalid request envelope: not an object"
        kind, head, data = envelope.get("kind"), envelope.get("head"), envelope.get("data")
        if not isinstance(kind, str) or not kind:
            return 400, "Missing or invalid 'kind' field — must be a non-empty string"
        if not isinstance(head, dict) or not isinstance(head.get("corrId"), str):
            return 400, "Invalid request envelope: head.corrId must be a string"
        token, version = head.get("auth"), head.get("version")
        if (token is not None and not isinstance(token, str)) or not isinstance(version, str):
            return 400, "Invalid request envelope: head.version and head.auth must be strings"
        if not isinstance(data, dict):
            return 400, "Invalid 'data' field — must be an object"
        if version not in SUPPORTED_VERSIONS:
            return 400, (f"Unsupported protocol version '{version}', supported versions: "
                         f"{list(SUPPORTED_VERSIONS)}")
        claims = self.verify(token, now) if token else None
        if claims is None:
            return UNAUTHORIZED
        if claims.admin:
            return None
        return None if _allowed(claims.prefix, kind, data) else FORBIDDEN

    def check_bearer(self, header: str | None, now: float, admin: bool = False
                     ) -> tuple[int, str] | None:
        """The ``Authorization`` header's check: ``None`` to proceed, else 401 (or 403
        when ``admin`` is required and the token is not an admin's)."""
        token = header[len("Bearer "):] if header and header.startswith("Bearer ") else None
        claims = self.verify(token, now) if token else None
        if claims is None:
            return UNAUTHORIZED
        if admin and not claims.admin:
            return FORBIDDEN
        return None

    # -- verification --------------------------------------------------------------

    def verify(self, token: str, now: float) -> Claims | None:
        """The token's claims if it verifies and has not expired at ``now``, else ``None``."""
        claims = self._cache.get(token)
        if claims is None:
            claims = self._decode(token)
            if claims is None:
                return None
            if len(self._cache) >= CACHE_MAX:
                self._cache.clear()
            self._cache[token] = claims
        if claims.exp < now - LEEWAY_S:
            self._cache.pop(token, None)
            return None
        return claims

    def _decode(self, token: str) -> Claims | None:
        import jwt  # noqa: PLC0415  # loaded once a key is (see load)

        try:
            alg = jwt.get_unverified_header(token).get("alg")
            if alg not in self.algorithms:
                return None
            payload = jwt.decode(
                token, self.key, algorithms=[alg], issuer=self.iss, audience=self.aud,
                leeway=LEEWAY_S, options={
                    "require": ["exp", *(["iss"] if self.iss else []),
                                *(["aud"] if self.aud else [])],
                    "verify_aud": self.aud is not None, "verify_iss": self.iss is not None,
                    "verify_iat": False, "verify_nbf": False,
                    "verify_sub": False, "verify_jti": False,
                })
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        return _claims_of(payload)


def load_authorizer(config: ServerConfig) -> Authorizer | None:
    """The server's authorizer, ``None`` when auth is off (no ``auth_public_key``)."""
    if config.auth_public_key is None:
        return None
    return Authorizer.load(config.auth_public_key, config.auth_iss, config.auth_aud)


def _claims_of(payload: dict[str, object]) -> Claims | None:
    """Typed claims, or ``None`` where the Rust server's ``Claims`` would not deserialize
    (``role``/``iss`` not a string, ``aud`` not a list of strings)."""
    role, iss, aud = payload.get("role"), payload.get("iss"), payload.get("aud")
    if role is not None and not isinstance(role, str):
        return None
    if iss is not None and not isinstance(iss, str):
        return None
    if aud is not None and not (isinstance(aud, list) and all(isinstance(a, str) for a in aud)):
        return None
    prefix = payload.get("prefix")
    exp = payload["exp"]
    if not isinstance(exp, int | float | str):  # PyJWT checked int(exp) works
        return None
    return Claims(admin=isinstance(role, str) and role.lower() == "admin",
                  prefix=prefix if isinstance(prefix, str) else None,
                  exp=float(exp))


def _allowed(prefix: str | None, kind: str, data: dict[str, object]) -> bool:
    """auth.rs's authorization for a non-admin token with ``prefix`` (``None``: absent,
    null or not a string: forbidden)."""
    if prefix is None:
        return False
    if not prefix:
        return True
    if kind == "task.heartbeat":
        tasks = data.get("tasks")
        if isinstance(tasks, list):
            for task in tasks:
                task_id = task.get("id") if isinstance(task, dict) else None
                if isinstance(task_id, str) and not task_id.startswith(prefix):
                    return False
        return True
    resource = _resource_id(kind, data)
    return resource is None or resource.startswith(prefix)


def _resource_id(kind: str, data: dict[str, object]) -> str | None:
    """The id a prefix must start (``""`` fails closed; ``None``: nothing to check)."""
    if kind in _BY_ID:
        value = data.get("id")
    elif kind in _BY_AWAITED:
        value = data.get("awaited")
    elif kind == "schedule.create":
        value = data.get("promiseId")
    elif kind == "task.create":
        action = data.get("action")
        inner = action.get("data") if isinstance(action, dict) else None
        value = inner.get("id") if isinstance(inner, dict) else None
    else:  # searches and unknown kinds: fail closed
        return ""
    return value if isinstance(value, str) else None
