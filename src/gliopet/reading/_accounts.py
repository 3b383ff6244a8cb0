"""Reader accounts of the blinded reading app: argon2id password hashes, admins, disabling.

The password is never stored, echoed or logged: only its argon2id hash (RFC 9106,
argon2-cffi's defaults) is kept in the ``readers`` table.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ..errors import InputError
from ..store._models import AuditEntry, Reader

logger = logging.getLogger(__name__)

__all__ = ["add_reader", "list_readers", "disable_reader", "authenticate", "MIN_PASSWORD_LENGTH", "check_name"]

#: Shortest password accepted.
MIN_PASSWORD_LENGTH = 8
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: A hash of a password nobody has: verified when the name is unknown, so both cases take the same time.
_DUMMY_PASSWORD = "gliopet-no-such-reader"


def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id, RFC 9106 low-memory profile


def check_name(name: str) -> str:
    """A reader name: letters, digits, ``_.-``, at most 64 characters (it appears in URLs and the audit)."""
    if not _NAME.match(name or ""):
        raise InputError(f"reader name {name!r}: use letters, digits, '_', '.', '-' (at most 64 characters)")
    return name


def add_reader(engine: Engine, name: str, password: str, *, admin: bool = False) -> None:
    """Create a reader account (argon2id hash of ``password``).

    Raises
    ------
    InputError
        The name is not usable or taken, or the password is shorter than
        :data:`MIN_PASSWORD_LENGTH`.
    """
    check_name(name)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"reader {name}: the password needs at least {MIN_PASSWORD_LENGTH} characters")
    digest = _hasher().hash(password)
    now = datetime.now(timezone.utc)
    with Session(engine) as session, session.begin():
        if session.scalar(sa.select(Reader).where(Reader.name == name)) is not None:
            raise InputError(f"reader {name}: already exists")
        session.add(Reader(name=name, password_hash=digest, is_admin=admin, disabled=False, created_at=now))
        session.add(AuditEntry(at=now, actor=None, action="reader_added", new={"reader": name, "admin": admin}))
    logger.info("reader %s added", name)


def list_readers(engine: Engine) -> list[dict[str, Any]]:
    """Every account: ``name``, ``admin``, ``disabled``, ``created_at`` (never the hash)."""
    with Session(engine) as session:
        return [{"name": r.name, "admin": r.is_admin, "disabled": r.disabled, "created_at": r.created_at}
                for r in session.scalars(sa.select(Reader).order_by(Reader.name))]


def disable_reader(engine: Engine, name: str) -> None:
    """Disable an account: it can no longer log in, and its open logins end.

    Raises
    ------
    InputError
        No reader of that name.
    """
    from ..store._models import LoginSession

    with Session(engine) as session, session.begin():
        reader = session.scalar(sa.select(Reader).where(Reader.name == name))
        if reader is None:
            raise InputError(f"reader {name!r}: no such reader")
        reader.disabled = True
        session.execute(sa.delete(LoginSession).where(LoginSession.reader_pk == reader.id))
        session.add(AuditEntry(at=datetime.now(timezone.utc), actor=None, action="reader_disabled",
                               new={"reader": name}))


def authenticate(session: Session, name: str, password: str) -> Reader | None:
    """The enabled reader with this name and password, else None (unknown names cost the same time)."""
    reader = session.scalar(sa.select(Reader).where(Reader.name == name)) if _NAME.match(name or "") else None
    hasher = _hasher()
    digest = reader.password_hash if reader is not None else hasher.hash(_DUMMY_PASSWORD)
    try:
        hasher.verify(digest, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if reader is None or reader.disabled:
        return None
    return reader
