"""Connections to PostgreSQL that can drop at any time: a restarted server, a failover, a
backend terminated by a DBA (`pg_terminate_backend`).

Here is how the platform tells a lost connection from an error of the statement, retries what
is safe to retry (a bounded number of times), and checks that a session still holds an
advisory lock. psycopg2 is imported only when a connection is made.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from modelops.resources.audit_log import Cursor

_T = TypeVar("_T")

READ_ATTEMPTS = 3
"""How often something safe to repeat (a read, taking a lock) is tried, each on a new
connection, before giving up."""
RETRY_PAUSE_SECONDS = 0.5
"""Pause before the second attempt; doubled before each further one."""
CONNECT_TIMEOUT_SECONDS = 10
"""libpq's connect timeout unless the dsn sets one: an unreachable host fails, not hangs."""

_LOST_CODES = ("57P01", "57P02", "57P03")  # admin / crash shutdown, cannot connect now
# `pg_advisory_lock(bigint)` shows in pg_locks with the key's high and low 32 bits as classid
# and objid, and objsubid 1.
_HOLDS_LOCK = """SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
    AND pid = pg_backend_pid() AND classid = %s::oid AND objid = %s::oid AND objsubid = 1
    AND granted)"""


def connect(dsn: str, application_name: str) -> Any:
    """A psycopg2 connection that gives up after `CONNECT_TIMEOUT_SECONDS` unless the dsn
    says otherwise."""
    import psycopg2
    from psycopg2.extensions import parse_dsn

    given = "connect_timeout" in parse_dsn(dsn)
    timeout = {} if given else {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    return psycopg2.connect(dsn, application_name=application_name, **timeout)


def connection_lost(error: BaseException) -> bool:
    """Whether a psycopg2 error means the connection is gone (or never came up), as opposed to
    an error of the statement (a lock timeout, a refused change)."""
    import psycopg2

    if isinstance(error, psycopg2.InterfaceError):
        return True
    if not isinstance(error, psycopg2.OperationalError):
        return False
    code = error.pgcode or ""  # none: the client saw the connection close or fail
    return not code or code.startswith("08") or code in _LOST_CODES


def first_line(error: BaseException) -> str:
    """The driver's own reason, without the hints libpq adds on further lines."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def retrying(action: Callable[[], _T], give_up: Callable[[BaseException], Exception]) -> _T:
    """`action`, again on a new connection when the connection was lost, `READ_ATTEMPTS` times
    in all; then the error `give_up` makes of the last loss. Only for what is safe to repeat:
    a write whose commit was sent may have landed."""
    pause = RETRY_PAUSE_SECONDS
    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            return action()
        except Exception as error:
            if not connection_lost(error):
                raise
            if attempt == READ_ATTEMPTS:
                raise give_up(error) from None
        time.sleep(pause)
        pause *= 2
    raise AssertionError("unreachable")


def holds_advisory_lock(cursor: Cursor, key: int) -> bool:
    """Whether the cursor's own session holds the session-level advisory lock `key`."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    cursor.execute(_HOLDS_LOCK, (unsigned >> 32, unsigned & 0xFFFF_FFFF))
    row = cursor.fetchone()
    return bool(row and row[0])
