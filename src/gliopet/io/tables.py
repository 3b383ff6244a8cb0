"""Tables in files: a CSV read with each row's line number, for messages that name the line."""

from __future__ import annotations

import csv
from pathlib import Path

from ..errors import InputError

__all__ = ["MAX_CSV_BYTES", "read_numbered_csv"]

#: Largest CSV read (bytes): a cohort table, not a data dump.
MAX_CSV_BYTES = 64 * 1024 * 1024


def read_numbered_csv(path: str | Path, *, what: str,
                      max_bytes: int = MAX_CSV_BYTES) -> tuple[str, list[str], list[tuple[int, list[str]]]]:
    """A CSV file's name, header and rows, each row with the file line it starts on.

    ``what`` names the kind of file in the error messages ("a cohort CSV").

    Raises
    ------
    InputError
        Larger than :data:`MAX_CSV_BYTES`, unreadable, not UTF-8, not CSV, or empty.
    """
    p = Path(path)
    source = p.name
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise InputError(f"{source}: {size} bytes is larger than the {max_bytes} bytes {what} may have")
        with p.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, strict=True)
            try:
                header = next(reader)
            except StopIteration:
                raise InputError(f"{source}: the file is empty (no header)") from None
            numbered: list[tuple[int, list[str]]] = []
            start = reader.line_num + 1
            for cells in reader:
                numbered.append((start, cells))
                start = reader.line_num + 1
    except OSError as exc:
        raise InputError(f"{source}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise InputError(f"{source}: not UTF-8 text") from None
    except csv.Error as exc:
        raise InputError(f"{source}: not a valid CSV ({exc})") from None
    return source, header, numbered
