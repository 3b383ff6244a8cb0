"""The secret key file and the files kept beside it (patient map, quarantine report).

The key is 32 random bytes (``secrets``), written as 64 hexadecimal digits in a
file created with mode 600 when it does not exist. Beside it, never in the
output tree: ``<key>.patients.csv``, the map from original to pseudonymous
Patient IDs with each patient's date shift (merged over runs), and
``<key>.quarantine.csv``, the input files that were not de-identified and why
(it names input paths, which may carry identifiers). Both mode 600, each
written to a temporary file and renamed.
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
from pathlib import Path

from ..atomic import write_text
from ..errors import InputError
from .keyed import KEY_BYTES

__all__ = ["load_or_create_key", "map_path", "quarantine_path", "write_patient_map", "write_quarantine_report",
           "KEY_FILE_MODE"]

KEY_FILE_MODE = 0o600
_KEY_TEXT = re.compile(rf"^[0-9a-f]{{{2 * KEY_BYTES}}}$")
_MAP_HEADER = ("original_patient_id", "pseudonymous_patient_id", "date_shift_days")
_QUARANTINE_HEADER = ("input_file", "reason")


def map_path(key_file: Path) -> Path:
    """Where the patient map lives: ``<key>.patients.csv`` beside the key."""
    return key_file.with_name(key_file.name + ".patients.csv")


def quarantine_path(key_file: Path) -> Path:
    """Where the quarantine report lives: ``<key>.quarantine.csv`` beside the key."""
    return key_file.with_name(key_file.name + ".quarantine.csv")


def load_or_create_key(key_file: Path) -> tuple[bytes, bool]:
    """The key in ``key_file``; a new random one (mode 600) when the file does not exist.

    Returns
    -------
    (bytes, bool)
        The key and whether it was created now.

    Raises
    ------
    InputError
        The file exists but is not 64 hexadecimal digits, or cannot be read or created.
    """
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
    except FileExistsError:
        try:
            text = key_file.read_text(encoding="ascii").strip().lower()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{key_file}: key file cannot be read ({type(exc).__name__})") from None
        if not _KEY_TEXT.match(text):
            raise InputError(f"{key_file}: not a gliopet key file ({2 * KEY_BYTES} hexadecimal digits expected)")
        return bytes.fromhex(text), False
    except OSError as exc:
        raise InputError(f"{key_file}: key file cannot be created ({exc.strerror})") from None
    key = secrets.token_bytes(KEY_BYTES)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.hex() + "\n")
    os.chmod(key_file, KEY_FILE_MODE)  # whatever the umask
    return key, True


def _write_private(path: Path, header: tuple[str, ...], rows: list[tuple]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text(path, buffer.getvalue(), mode=KEY_FILE_MODE)


def write_patient_map(key_file: Path, patients: dict[str, tuple[str, int]]) -> Path:
    """Merge ``{original: (pseudonym, shift_days)}`` into the map beside the key; returns its path."""
    path = map_path(key_file)
    merged: dict[str, tuple[str, int]] = {}
    if path.exists():
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                merged[row[_MAP_HEADER[0]]] = (row[_MAP_HEADER[1]], int(row[_MAP_HEADER[2]]))
    merged.update(patients)
    _write_private(path, _MAP_HEADER, [(k, *merged[k]) for k in sorted(merged)])
    return path


def write_quarantine_report(key_file: Path, entries: list[tuple[str, str]]) -> Path:
    """This run's ``(input file, reason)`` list, beside the key; returns its path."""
    path = quarantine_path(key_file)
    _write_private(path, _QUARANTINE_HEADER, entries)
    return path
