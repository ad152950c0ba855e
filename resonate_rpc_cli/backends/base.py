"""The backend seam: what rpcdemo needs of a kind of Resonate server, and which one to use.

A :class:`Backend` is one kind of server (our embedded one, a running HTTP
server, resonate-pg, the real ``resonate`` binary). It owns everything that
differs between them: the URL and command line of the server it starts, the
settings it refuses, the checks before ``up`` starts anything, the read side
the views use, the write side (promise settles: ``rpcdemo promise``, ``flow
cancel``), how a dead node's leases are handed back, the timers it needs
driven, when its server is ready, and what the fork server preloads for its
nodes. Callers choose once with :func:`backend_for` (the configured
``server.kind`` and URL) or :func:`read_client`/:func:`write_client` (a URL
only) and never ask which kind they hold.

Adding a backend is one module defining a class that satisfies
:class:`Backend`, plus one ``register(...)`` line in ``backends/__init__.py``.
The nodes' side is not here: they pick their connector from the URL (``contracts/connectors.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from resonate_rpc_cli.clients.protocol import ReadClient, ResonateClient, WriteClient
from resonate_rpc_cli.contracts.connectors import URL_RULE, connector_of
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.record import Record

#: The ``server.kind`` of a server already running at ``server_url``: none is
#: started and the backend is the one whose connector reads that URL.
EXTERNAL = "external"


class ServerSettings(Protocol):
    """The part of the topology's configuration a backend reads (``TopologyConfig`` has it)."""

    @property
    def host(self) -> str: ...
    @property
    def server_port(self) -> int: ...
    @property
    def server_url(self) -> str: ...
    @property
    def memory(self) -> bool: ...
    @property
    def retain_s(self) -> float | None: ...
    @property
    def resonate_sql(self) -> str: ...
    @property
    def auth(self) -> bool: ...
    @property
    def insecure(self) -> bool: ...


class Prepared(Record):
    """What :meth:`Backend.preflight` settled: the server's URL and its schema file."""

    server_url: str
    resonate_sql: str


class ReleaseOutcome(Record):
    """What became of one release: ``released`` task ids, or ``None`` if none was sent."""

    node: str
    node_id: str
    released: tuple[str, ...] | None
    detail: str

    @classmethod
    def failed(cls, node: str, node_id: str, exc: Exception) -> ReleaseOutcome:
        """The server could not be asked; the leases lapse after the TTL."""
        return cls(node, node_id, None, f"release failed ({exc}); leases lapse after the TTL")

    @classmethod
    def done(cls, node: str, node_id: str, ids: tuple[str, ...]) -> ReleaseOutcome:
        """``ids`` were handed back to the group."""
        return cls(node, node_id, ids, f"{len(ids)} lease(s) of {node_id} back to the group")


#: One lease release, run on the releaser's thread: (node name, node id) -> outcome.
Release = Callable[[str, str], ReleaseOutcome]


class Stoppable(Protocol):
    def stop(self, timeout_s: float = 2.0) -> None: ...


class Backend(Protocol):
    """One kind of server. ``started`` is False when it runs elsewhere (``external``).

    ``kind`` is the ``server.kind`` (``up --server``) that starts it here, or
    ``None`` when it is only reached by URL; ``connector`` names the URLs it
    reads when it runs elsewhere (``contracts/connectors.py``), or ``None``.
    """

    @property
    def kind(self) -> str | None: ...
    @property
    def connector(self) -> str | None: ...
    @property
    def started(self) -> bool: ...

    def server_url(self, settings: ServerSettings) -> str:
        """The server's URL for ``settings`` (its own URL when it starts one)."""
        ...

    def check(self, settings: ServerSettings) -> None:
        """Raise :class:`UsageError` for a setting this server cannot honour."""
        ...

    def preflight(self, settings: ServerSettings, home: Home) -> Prepared:
        """Fail before ``up`` starts anything if this server cannot be had (UsageError,
        exit 2, or NotRunningError, exit 3); else its URL and schema file."""
        ...

    def server_command(self, settings: ServerSettings, home: Home
                       ) -> tuple[list[str], dict[str, str]]:
        """argv and extra environment of the server process it starts."""
        ...

    def reader(self, url: str, timeout_s: float) -> ReadClient:
        """The read side over the server at ``url``."""
        ...

    def writer(self, url: str, timeout_s: float) -> WriteClient:
        """The write side on the promises of the server at ``url`` (settles)."""
        ...

    def releaser(self, url: str) -> Release:
        """The release of one dead node's leases (called on the releaser's thread)."""
        ...

    def start_timers(self, url: str) -> Stoppable | None:
        """A started thread firing the server's timers, ``None`` if it keeps its own."""
        ...

    def ready(self, url: str) -> bool:
        """Whether the server answers now (the supervisor's readiness of the server slot)."""
        ...

    def preload(self) -> tuple[str, ...]:
        """Modules its nodes need beyond the SDK's, for the fork server to import once."""
        ...

    def handoff_socket(self, home: Home) -> Path | None:
        """The Unix socket its server adopts the links' healthy connections on
        (``links/handoff.py``), or None: its links relay every connection."""
        ...


BackendClass = Callable[[bool], Backend]
_REGISTRY: list[BackendClass] = []


def register(backend: BackendClass) -> BackendClass:
    """Make ``backend`` (a class taking ``started``) choosable; the first one registered
    for a kind or connector is the one chosen."""
    _REGISTRY.append(backend)
    return backend


def server_kinds() -> tuple[str, ...]:
    """Every ``server.kind`` a registered backend starts, in registration order, then
    ``external``."""
    kinds = [k for cls in _REGISTRY if (k := cls(True).kind) is not None]
    return (*dict.fromkeys(kinds), EXTERNAL)


def kind_url_problem(kind: object, url: object) -> str | None:
    """What is wrong with a topology file's ``server.kind`` and ``server.url`` together
    (``None``: absent), or None: a URL is the ``external`` kind's, and it needs one."""
    if kind == EXTERNAL and url is None:
        return 'server.kind = "external" needs server.url'
    if url is not None and kind not in (None, EXTERNAL):
        return 'server.url only goes with server.kind = "external"'
    return None


def backend_for(kind: str, url: str = "") -> Backend:
    """The backend of ``server.kind`` ``kind``; for ``external``, the one reading ``url``.

    Raises :class:`UsageError` (the message of ``--server``/``--server-url``)
    when none is registered for them.
    """
    if kind == EXTERNAL:
        found = _by_url(url)
        if found is None:
            raise UsageError(f"--server-url {URL_RULE}, got {url!r}")
        return found
    for cls in _REGISTRY:
        backend = cls(True)
        if backend.kind == kind:
            return backend
    raise UsageError(f"--server must be one of {', '.join(server_kinds())}, got {kind!r}")


def _by_url(url: str) -> Backend | None:
    connector = connector_of(url)
    for cls in _REGISTRY:
        backend = cls(False)
        if connector is not None and backend.connector == connector:
            return backend
    return None


def read_client(url: str, timeout_s: float = 5.0) -> ReadClient:
    """The read side for ``url``, whichever server it names (SQL for resonate-pg, which
    answers 501 to the searches); the HTTP client for a URL no backend reads."""
    backend = _by_url(url)
    if backend is None:
        return ResonateClient(url, timeout_s=timeout_s)
    return backend.reader(url, timeout_s)


def write_client(url: str, timeout_s: float = 5.0) -> WriteClient:
    """The write side for ``url``, whichever server it names (resonate-pg's own
    ``resonate_rpc`` in SQL, else the HTTP protocol client)."""
    backend = _by_url(url)
    if backend is None:
        return ResonateClient(url, timeout_s=timeout_s)
    return backend.writer(url, timeout_s)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    import ipaddress  # noqa: PLC0415  (not for every command that reads a server: issue 21)

    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_exposure(settings: ServerSettings, *, tokens: bool, listens: bool) -> None:
    """UsageError when ``auth`` is asked of a server that checks no tokens of ours
    (``tokens``), or a server we start (``listens``) would answer beyond loopback
    without tokens and without ``insecure``."""
    if settings.auth and not tokens:
        raise UsageError("--auth needs the embedded server (resonate-pg: the database's "
                         "roles guard it; another server: give nodes RESONATE_TOKEN)")
    if (listens and not settings.auth and not settings.insecure
            and not is_loopback(settings.host)):
        raise UsageError(f"--host {settings.host} would let anyone who reaches it drive the "
                         "server: add --auth (tokens) or --insecure")


def refuse_retain(settings: ServerSettings) -> None:
    """Only our embedded server forgets settled flows; the others refuse ``--retain``."""
    if settings.retain_s is not None:
        raise UsageError("--retain (retain in the topology file) needs the embedded server")
