"""pytest plugin: throwaway databases on the PostgreSQL server of the test machine.

Registered as a plugin by `tests/conftest.py`; take everything from its fixtures (importing
from it directly would stop pytest from rewriting its asserts). Every database is created
with a random name and dropped `WITH (FORCE)` at the end of the session, so a connection
left open by a Dagster instance or an MLflow server cannot keep it alive. Tests skip, saying
why, only when no server answers on 127.0.0.1:5432.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

DATABASE_PREFIX = "modelops_test_"


@dataclass(frozen=True)
class PostgresServer:
    """Where the test databases live (trust authentication: no password)."""

    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"

    def url(self, database: str) -> str:
        """The URL MLflow and SQLAlchemy need: `postgresql+psycopg2`, because SQLAlchemy 2.1
        maps a bare `postgresql://` to psycopg 3, which is not installed."""
        return f"postgresql+psycopg2://{self.user}@{self.host}:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> Any:
        """A psycopg2 connection (to the maintenance database by default)."""
        import psycopg2

        return psycopg2.connect(
            host=self.host, port=self.port, user=self.user, dbname=database, connect_timeout=3
        )


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    """The local server, or a skip with the reason when it does not answer."""
    import psycopg2

    server = PostgresServer()
    try:
        server.connect().close()
    except psycopg2.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable on {server.host}:{server.port}: {exc}")
    return server


@pytest.fixture(scope="session")
def postgres_database(postgres_server: PostgresServer) -> Iterator[Callable[[], str]]:
    """Factory: each call creates an empty database `modelops_test_<random>`, returns its name."""
    admin = postgres_server.connect()
    admin.autocommit = True  # CREATE/DROP DATABASE cannot run inside a transaction
    created: list[str] = []

    def create() -> str:
        name = f"{DATABASE_PREFIX}{secrets.token_hex(6)}"
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return name

    try:
        yield create
    finally:
        with admin.cursor() as cursor:
            for name in created:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
