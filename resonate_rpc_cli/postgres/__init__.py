"""Resonate on Postgres (resonate-pg): the local cluster, the SQL read side, timers, failover.

resonate-pg is Resonate HQ's server as one SQL file (``resonate.sql``, applied
by the user, never shipped here). Every protocol action is the stored
procedure ``resonate.resonate_rpc(jsonb)``; nodes talk to it through
``resonate_pg.PostgresConnection``. This package holds what rpcdemo adds
around it: :mod:`.urls` (how to show a URL), :mod:`.cluster` (a cluster
under HOME), :mod:`.serve` (the server slot's process), :mod:`.reads`
(promise and task reads in SQL, since resonate-pg answers 501 to the
searches), :mod:`.timers` and :mod:`.release`. The supervisor reaches them
through the backend seam (``backends/postgres.py``), never directly.
"""
