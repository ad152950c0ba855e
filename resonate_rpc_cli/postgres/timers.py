"""Timers on resonate-pg: call ``resonate.process_timeouts()`` every second.

resonate-pg fires nothing by itself: lease expiry, task retries and promise
timeouts happen when something calls ``resonate.process_timeouts()`` (pg_cron,
every 5 s, in production). Our nodes connect with the connector's own timer
driving off (it would run the procedure on every drain), so the supervisor
runs :class:`TimerDriver`: once a second, like a finer pg_cron, unless pg_cron
already schedules the procedure in that database. A database that is down is
retried on the next tick; a role that may not run the procedure stops the
driver (said once in the supervisor's log: timers are then pg_cron's job).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from resonate_rpc_cli.clients.protocol import ProtocolError, ServerUnreachable
from resonate_rpc_cli.postgres.db import Db, Rows

INTERVAL_S = 1.0
FIRE_SQL = "SELECT resonate.process_timeouts()"
CRON_SQL = ("SELECT count(*) FROM cron.job "
            "WHERE command ILIKE '%%resonate.process_timeouts%%' AND active")
HAS_CRON_SQL = "SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'"


def cron_schedules_timers(db: Rows) -> bool:
    """Whether pg_cron is installed in this database and runs ``process_timeouts``."""
    try:
        if not db.rows(HAS_CRON_SQL)[0][0]:
            return False
        return bool(db.rows(CRON_SQL)[0][0])
    except ProtocolError:  # no access to cron.job: we cannot know, so we drive
        return False


class TimerDriver:
    """A daemon thread firing resonate-pg's timers every ``interval_s``; :meth:`stop` ends it."""

    def __init__(self, url: str, interval_s: float = INTERVAL_S, db: Rows | None = None,
                 say: Callable[[str], None] = print) -> None:
        self.db: Rows = db if db is not None else Db(url, timeout_s=2.0)
        self.interval_s = interval_s
        self.say = say
        self.fired = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-timers", daemon=True)

    def start(self) -> TimerDriver:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def tick(self) -> bool:
        """Fire once; False when this driver should stop (the role may not fire timers)."""
        try:
            self.db.rows(FIRE_SQL)
        except ServerUnreachable:
            return True  # down (restarting?): next tick
        except ProtocolError as exc:
            if exc.status == 403:
                self.say(f"timers: this role may not run resonate.process_timeouts() ({exc}); "
                         "leaving timers to pg_cron")
                return False
            return True
        self.fired += 1
        return True

    def _run(self) -> None:
        checked = False
        while not self._stop.is_set():
            if not checked:
                try:
                    if cron_schedules_timers(self.db):
                        self.say("timers: pg_cron runs resonate.process_timeouts(); not driving")
                        return
                    checked = True
                except ServerUnreachable:
                    pass
            if checked and not self.tick():
                return
            self._stop.wait(self.interval_s)
