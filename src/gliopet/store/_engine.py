"""Open the cohort store: URL handling, SQLite settings, migrations.

SQLite (the default) is opened in WAL mode with ``synchronous=FULL`` (a
committed transaction survives a power cut) and a busy timeout, and every
transaction starts with ``BEGIN IMMEDIATE`` so that two processes writing the
same file wait for each other instead of failing mid-transaction.
PostgreSQL is used through psycopg 3 (``postgresql://...`` URLs are mapped to
``postgresql+psycopg://...``).

References
----------
SQLite, "Write-Ahead Logging" and "PRAGMA synchronous", https://sqlite.org/wal.html,
https://sqlite.org/pragma.html#pragma_synchronous.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from ..errors import InputError

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_DB_FILE", "SQLITE_BUSY_TIMEOUT_MS", "normalise_url", "open_store", "upgrade", "safe_url"]

#: Store used when no ``--db`` is given: a SQLite file in the working directory.
DEFAULT_DB_FILE = "gliopet.sqlite"
#: How long a SQLite writer waits for another one to commit (ms).
SQLITE_BUSY_TIMEOUT_MS = 120_000
#: How long to wait for a database server to answer a connection (s).
CONNECT_TIMEOUT_S = 10
#: Key of the PostgreSQL advisory lock taken while migrating (any constant; "GLIO" in ASCII).
_PG_MIGRATION_LOCK = 0x474C494F


def normalise_url(db: str | Path | None) -> str:
    """A SQLAlchemy URL from ``--db``: None (the default file), a file path, or a URL.

    >>> normalise_url("cohort.sqlite")
    'sqlite:///cohort.sqlite'
    >>> normalise_url("postgresql://u@localhost/gliopet")
    'postgresql+psycopg://u@localhost/gliopet'
    """
    if db is None:
        db = DEFAULT_DB_FILE
    text = str(db)
    if "://" not in text:
        return f"sqlite:///{text}"
    if text.startswith("postgresql://") or text.startswith("postgres://"):
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    return text


def safe_url(url: str) -> str:
    """The URL for messages: password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def _sqlite_settings(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001
        dbapi_connection.isolation_level = None  # gliopet issues BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # noqa: ANN001
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def open_store(db: str | Path | None = None, *, migrate: bool = True) -> Engine:
    """An engine on the store, its schema brought to the latest revision.

    Parameters
    ----------
    db : str or path, optional
        ``--db``: a SQLAlchemy URL (``sqlite:///file``, ``postgresql://user@host/db``) or a
        SQLite file path; default :data:`DEFAULT_DB_FILE` in the working directory.
    migrate : bool
        Apply pending migrations (default).

    Raises
    ------
    InputError
        The URL does not parse, names an unknown database driver, or the
        database cannot be reached (the message hides the password).
    """
    url = normalise_url(db)
    shown = safe_url(url)
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            engine = sa.create_engine(url)
            _sqlite_settings(engine)
        else:
            args = {"connect_timeout": CONNECT_TIMEOUT_S} if parsed.get_backend_name() == "postgresql" else {}
            engine = sa.create_engine(url, connect_args=args, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise InputError(f"--db {shown}: not a usable database URL ({exc})") from None
    try:
        with engine.connect():
            pass
        if migrate:
            upgrade(engine)
    except DBAPIError as exc:
        engine.dispose()
        reason = " ".join(str(exc.orig).split())[:300]
        raise InputError(f"--db {shown}: cannot open the database ({type(exc.orig).__name__}: {reason})") from None
    return engine


def _alembic_config():
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(str(resources.files("gliopet.store").joinpath("migrations")))))
    return config


def head_revision() -> str:
    """The newest migration's revision id."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the store's Alembic migrations up to ``revision``, holding the write lock.

    On SQLite the transaction starts with ``BEGIN IMMEDIATE``; on PostgreSQL a
    transaction-scoped advisory lock is taken, so concurrent first runs on a
    new database migrate it once.
    """
    from alembic import command

    config = _alembic_config()
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    logger.info("store at revision %s: %s", revision, safe_url(str(engine.url)))
