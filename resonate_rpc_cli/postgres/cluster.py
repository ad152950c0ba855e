"""A PostgreSQL cluster under HOME for ``up --server postgres`` (paths, binaries, initdb).

Layout (part of the HOME contract)::

    HOME/postgres/data/    the cluster (initdb), owned by the user Postgres runs as
    HOME/pgpass            libpq password file (0600): the superuser's generated password

The cluster listens on ``host:port`` only (TCP, no Unix socket), with
scram-sha-256 password authentication; the password lives only in
``HOME/pgpass``, which the server URL names (``?passfile=...``), so the URL
shown by ``status`` carries no secret.

Root: ``initdb`` and ``postgres`` refuse to run as root, so as root they run
as the unprivileged ``postgres`` user (``RPCDEMO_PG_USER`` names another).
That user must reach its data directory: ``HOME/postgres`` is created owned
by it (0700), and HOME is made traversable (0711: search, not list) only in
that case: every directory inside HOME stays 0700, so nothing of ours becomes
readable. When HOME's parents are not searchable by that user (e.g. under
``/root``), preparing fails with one line saying so.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psutil

from resonate_rpc_cli.contracts.errors import NotRunningError

ENV_PG_USER = "RPCDEMO_PG_USER"
SUPERUSER = "postgres"
DATABASE = "postgres"
#: libpq's sanity limit is ours too: plenty for 16 replicas of nine groups.
MAX_CONNECTIONS = 300
INITDB_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class RunAs:
    """The unprivileged user the cluster's programs run as (when we are root)."""

    name: str
    uid: int
    gid: int


def run_as() -> RunAs | None:
    """``None`` unless we are root; then the ``postgres`` user (or ``$RPCDEMO_PG_USER``)."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get(ENV_PG_USER, "").strip() or "postgres"
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise NotRunningError(
            f"running as root: initdb and postgres refuse root and there is no {name!r} user "
            f"to run them as; create it, set {ENV_PG_USER}, or run rpcdemo as a normal user"
        ) from None
    return RunAs(name, entry.pw_uid, entry.pw_gid)


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)


def find_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``postgres``: PATH, ``pg_config --bindir``,
    then Debian's ``/usr/lib/postgresql/N/bin`` (newest first); None if none has both."""
    candidates: list[Path] = []
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                 timeout=10, check=False).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out:
            candidates.append(Path(out))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                                           key=_version_key, reverse=True)]
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "postgres").is_file():
            return bindir
    return None


def require_bindir() -> Path:
    """:func:`find_bindir` or :class:`NotRunningError` saying what to install."""
    bindir = find_bindir()
    if bindir is None:
        raise NotRunningError(
            "--server postgres: no PostgreSQL server binaries (initdb, postgres) on PATH, "
            "from pg_config or under /usr/lib/postgresql; install PostgreSQL (e.g. "
            "apt-get install postgresql) or use --server-url postgresql://..."
        )
    return bindir


def cluster_root(home: Path) -> Path:
    """``HOME/postgres``: the cluster's directory (its data directory is ``data`` inside)."""
    return home / "postgres"


@dataclass(frozen=True)
class Cluster:
    """The cluster of one HOME, listening on ``host:port``."""

    home: Path
    host: str
    port: int

    @property
    def root(self) -> Path:
        return cluster_root(self.home)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def passfile(self) -> Path:
        return self.home / "pgpass"

    @property
    def url(self) -> str:
        """The libpq URI of the cluster's database, naming the password file."""
        return (f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{DATABASE}"
                f"?passfile={quote(str(self.passfile), safe='/')}")

    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    def postmaster_argv(self, bindir: Path) -> list[str]:
        """``postgres`` on ``host:port`` only (no Unix socket), named for ``ps``."""
        return [str(bindir / "postgres"), "-D", str(self.data_dir), "-h", self.host,
                "-p", str(self.port), "-k", "", "-c", "cluster_name=rpcdemo",
                "-c", f"max_connections={MAX_CONNECTIONS}"]

    def prepare(self, bindir: Path, user: RunAs | None) -> bool:
        """Make the cluster's directory reachable for ``user`` and initdb it if new.

        Returns whether initdb ran. Raises :class:`NotRunningError` (one line)
        when the user cannot reach HOME or initdb fails.
        """
        if user is not None:
            os.chmod(self.home, 0o711)  # search only; see the module docstring
        self.root.mkdir(mode=0o700, exist_ok=True)
        if user is not None:
            os.chown(self.root, user.uid, user.gid)
            self._check_reachable(user)
        if self.initialized():
            return False
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)  # a half-made cluster of an interrupted initdb
        self._initdb(bindir, user)
        return True

    def _check_reachable(self, user: RunAs) -> None:
        probe = subprocess.run(["/bin/sh", "-c", 'cd "$1"', "sh", str(self.root)],
                               user=user.uid, group=user.gid, extra_groups=[],
                               capture_output=True, check=False)
        if probe.returncode != 0:
            raise NotRunningError(
                f"the {user.name!r} user Postgres runs as cannot reach {self.root} (a parent "
                "directory of HOME is not searchable by it); choose a --home under a "
                "directory every user may search, e.g. /tmp or /srv"
            )

    def _initdb(self, bindir: Path, user: RunAs | None) -> None:
        password = secrets.token_urlsafe(24)
        pwfile = self.root / ".initdb-password"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password + "\n")
        if user is not None:
            os.chown(pwfile, user.uid, user.gid)
        try:
            done = subprocess.run(
                [str(bindir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                 "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--no-locale"],
                cwd=self.root, capture_output=True, text=True, check=False,
                timeout=INITDB_TIMEOUT_S, user=user.uid if user else None,
                group=user.gid if user else None, extra_groups=[] if user else None)
        finally:
            pwfile.unlink(missing_ok=True)
        if done.returncode != 0:
            lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
            raise NotRunningError(f"initdb failed ({done.returncode}): "
                                  f"{lines[-1] if lines else 'no output'}")
        fd = os.open(self.passfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"*:*:*:{SUPERUSER}:{password}\n")


def cluster_processes(data_dir: Path) -> list[psutil.Process]:
    """Live ``postgres`` processes of the cluster in ``data_dir`` (its postmaster and children).

    Postgres overwrites its children's environment and command line (their
    ``ps`` titles), so they are known by their working directory: every one of
    them runs in the data directory.
    """
    want = str(data_dir.resolve()) if data_dir.exists() else str(data_dir)
    found = []
    for proc in psutil.process_iter(["name"]):
        with contextlib.suppress(psutil.Error):
            if proc.info["name"] in ("postgres", "postmaster") and proc.cwd() == want \
                    and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found
