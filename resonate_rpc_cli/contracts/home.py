"""The HOME directory of one topology: where its state, logs, store and ledgers live.

One HOME holds at most one running topology. It is created with mode 0700 so
the control socket inside it is private to the user who started it. Layout
(a contract, see docs/ARCHITECTURE.md)::

    HOME/store.sqlite            the embedded server's store
    HOME/ledger/                 execution ledgers of the nodes
    HOME/logs/<name>.<n>.log     one log per node per incarnation
    HOME/run/control.sock        the supervisor daemon's control socket (and its links')
    HOME/run/adopt.sock          where the embedded server adopts healthy links' connections
    HOME/run/supervisor.pid      the supervisor's pid
    HOME/run/endpoints.json      where the running topology answers (:class:`Endpoints`)
    HOME/run/ready/              ready files, one per incarnation
    HOME/postgres/data/          the cluster of ``up --server postgres`` (postgres/cluster.py)
    HOME/pgpass                  that cluster's password file (0600)
    HOME/auth/                   ``up --auth``'s key pair (clients/tokens.py; private key 0600)
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.naming import ENV_HOME
from resonate_rpc_cli.contracts.record import Record

DEFAULT_HOME = ".rpcdemo"
STORE_FILE = "store.sqlite"
LEDGER_DIR = "ledger"
#: Unix socket paths longer than this cannot be bound (sun_path is 108 bytes on Linux).
MAX_SOCKET_PATH = 100


class Home(Record):
    """Paths under one HOME; pure path arithmetic except :meth:`ensure`."""

    root: Path

    @classmethod
    def resolve(cls, raw: str | os.PathLike[str] | None = None,
                env: Mapping[str, str] | None = None) -> Home:
        """``raw``, else ``$RPCDEMO_HOME`` (of ``env``, default ``os.environ``), else
        ``./.rpcdemo``; always absolute."""
        env = os.environ if env is None else env
        text = os.fspath(raw) if raw else env.get(ENV_HOME, "").strip() or DEFAULT_HOME
        return cls(Path(text).expanduser().absolute())

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def ready_dir(self) -> Path:
        return self.run_dir / "ready"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def ledger_dir(self) -> Path:
        return self.root / LEDGER_DIR

    @property
    def store_path(self) -> Path:
        return self.root / STORE_FILE

    @property
    def transitions_path(self) -> Path:
        """The embedded server's transition journal (server/journal.py; read by chaos)."""
        return self.run_dir / "transitions.jsonl"

    @property
    def control_socket(self) -> Path:
        return self.run_dir / "control.sock"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "supervisor.pid"

    @property
    def endpoints_file(self) -> Path:
        return self.run_dir / "endpoints.json"

    @property
    def supervisor_log(self) -> Path:
        return self.logs_dir / "supervisor.log"

    def node_log(self, name: str, incarnation: int) -> Path:
        return self.logs_dir / f"{name}.{incarnation}.log"

    def ready_file(self, name: str, node_id: str) -> Path:
        return self.ready_dir / f"{name}.{node_id}.json"

    def ensure(self) -> None:
        """Create HOME and its sub-directories with mode 0700 (HOME may stay 0711).

        Raises :class:`UsageError` when HOME is not a directory, belongs to
        another user, or is so deep that its control socket path would be too
        long to bind.
        """
        if len(os.fsencode(self.control_socket)) > MAX_SOCKET_PATH:
            raise UsageError(
                f"HOME path is too long for a Unix socket ({self.control_socket}); "
                "choose a shorter --home"
            )
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create HOME {self.root}: {exc.strerror}") from exc
        info = self.root.stat()
        if not stat.S_ISDIR(info.st_mode):
            raise UsageError(f"HOME {self.root} is not a directory")
        if info.st_uid != os.getuid():
            raise UsageError(f"HOME {self.root} belongs to another user")
        # 0711 (search only) is what a Postgres cluster run as another user needs
        # (postgres/cluster.py); anything else that opens HOME up is closed again
        if stat.S_IMODE(info.st_mode) & 0o077 not in (0, 0o011):
            os.chmod(self.root, 0o700)
        for sub in (self.run_dir, self.ready_dir, self.logs_dir, self.ledger_dir):
            sub.mkdir(mode=0o700, parents=True, exist_ok=True)


class Endpoints(Record):
    """Where the topology running under a HOME answers.

    Its supervisor daemon writes ``HOME/run/endpoints.json`` once it serves
    (atomically: temp file + rename) and removes it when it stops, so a
    caller that only needs the URLs (``rpcdemo run``) reads one file instead
    of asking the supervisor.
    """

    server_url: str
    #: None when this topology runs no gateway (``up --only`` without it)
    gateway_url: str | None
    supervisor_pid: int
    #: the declared application's name (None: the seed), so ``run`` knows without asking
    app: str | None = None

    def write(self, home: Home) -> None:
        tmp = home.endpoints_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"server_url": self.server_url,
                                   "gateway_url": self.gateway_url,
                                   "supervisor_pid": self.supervisor_pid,
                                   "app": self.app}) + "\n")
        tmp.replace(home.endpoints_file)

    @classmethod
    def read(cls, home: Home) -> Endpoints | None:
        """The endpoints of the topology under ``home``; None when none runs (no file, an
        unreadable one, or one a supervisor that is gone left behind)."""
        try:
            doc = json.loads(home.endpoints_file.read_text())
            gateway = doc["gateway_url"]
            app = doc.get("app")
            found = cls(str(doc["server_url"]), None if gateway is None else str(gateway),
                        int(doc["supervisor_pid"]), None if app is None else str(app))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return found if _alive(found.supervisor_pid) else None

    @staticmethod
    def remove(home: Home) -> None:
        with contextlib.suppress(OSError):
            home.endpoints_file.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid > 0


def not_running_message(home: Home) -> str:
    """The one line for "no supervisor answers under ``home``" (exit 3)."""
    return f"nothing is running under {home.root}; start it with `rpcdemo up`"
