"""Blinded reading: accounts, reading sessions, the web app (``gliopet serve``), adjudication, export.

Readers score every case of a session under an opaque code, in their own
random order, with a PET/CT viewer (NiiVue), without seeing identity,
clinical data, measurements or each other's reads. Everything they do is
appended to the audit table. See :mod:`gliopet.reading._app` for the
security model.
"""

from __future__ import annotations

from pathlib import Path

from ._accounts import MIN_PASSWORD_LENGTH, add_reader, authenticate, disable_reader, list_readers
from ._app import AppConfig, create_app, niivue_path
from ._sessions import (VISUAL_CHOICES, export_audit, export_reads, new_session, parse_read_form, reader_orders,
                        record_consensus, reopen_read, save_read, session_overview)
from ._volumes import case_volumes, nifti_bytes

__all__ = ["add_reader", "list_readers", "disable_reader", "authenticate", "MIN_PASSWORD_LENGTH",
           "new_session", "reader_orders", "export_reads", "export_audit", "parse_read_form", "save_read",
           "reopen_read", "record_consensus", "session_overview", "VISUAL_CHOICES", "case_volumes", "nifti_bytes",
           "AppConfig", "create_app", "niivue_path", "serve_app"]


#: Idle connections are kept this long (s): uvicorn's 5 s default can close a connection just as a reader's
#: next request goes out after a slow volume download.
KEEP_ALIVE_S = 30


def serve_app(db: str, *, host: str = "127.0.0.1", port: int = 8000, certfile: Path | None = None,
              keyfile: Path | None = None) -> None:
    """Run the reading app with uvicorn (HTTPS when given a certificate and key)."""
    import uvicorn

    from ..store import open_store

    engine = open_store(db)
    app = create_app(AppConfig(engine=engine, https=certfile is not None))
    uvicorn.run(app, host=host, port=port, ssl_certfile=str(certfile) if certfile else None,
                ssl_keyfile=str(keyfile) if keyfile else None, log_level="info", access_log=True,
                timeout_keep_alive=KEEP_ALIVE_S)
