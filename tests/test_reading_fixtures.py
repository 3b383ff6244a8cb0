"""A small store for the reading app's tests: four patients with tiny but real PET/CT DICOM and canaries.

Every identifier a reader must never see is a canary: the DICOM PatientName,
PatientID, birth date, accession number and dates, the clinical table's
patient IDs and diagnosis, and the measured SUVmax. Tests look for each in
every page, URL, served volume and log line. Imported by the test_reading*
modules (this module has no tests of its own).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from dicom_factory import pet_header, write_series
from gliopet.store import import_patients, open_store, write_study

#: Strings that must appear nowhere a reader can look.
CANARIES = ("ZQXCANARYNAME", "QQ-CANARY-PID", "19010203", "1901-02-03", "ACCCANARY55", "20240115", "2024-01-15",
            "2021-03-08", "CANARYDIAGNOSIS", "7.654321", "12.345678", "CANARYSTUDYDESC")
PASSWORDS = {"alice": "alice-secret-1", "bob": "bob-secret-22", "admin": "admin-secret-333"}
N_PATIENTS = 4
#: PET voxel values (SUV = stored x slope x SUV factor); the hot voxel of patient p is at (i, j, k) = (5, 6, 2).
HOT_IJK = (5, 6, 2)


@dataclass(frozen=True)
class ReadingStore:
    url: str
    root: Path
    patient_ids: tuple[str, ...]


def _canary_header(p: int) -> dict:
    return {"PatientName": "ZQXCANARYNAME^P", "PatientID": f"QQ-CANARY-PID-{p}", "PatientBirthDate": "19010203",
            "AccessionNumber": f"ACCCANARY55{p}", "StudyDate": "20240115", "StudyDescription": "CANARYSTUDYDESC"}


def build_store(root: Path, url: str | None = None) -> ReadingStore:
    """Four measured studies (PET 4x12x12 at 4 mm, CT 8x24x24 at 2 mm) in a store at ``url``."""
    url = url or f"sqlite:///{root / 'store.sqlite'}"
    engine = open_store(url)
    pids = tuple(f"QQ-CANARY-PID-{p}" for p in range(N_PATIENTS))
    rows = [{"patient_id": pid, "sex": "F", "age_years": 50.0 + p, "diagnosis": "CANARYDIAGNOSIS",
             "who_grade": "IV", "referral": "staging", "prior_surgery": "no", "prior_chemotherapy": "no",
             "prior_radiotherapy": "no", "mri_date": date(2021, 3, 1), "pet_date": date(2021, 3, 8), "extra": {}}
            for p, pid in enumerate(pids)]
    import_patients(engine, rows, source_file="clinical.csv")
    for p, pid in enumerate(pids):
        pet = np.full((4, 12, 12), 100, dtype=np.int16)
        i, j, k = HOT_IJK
        pet[k, j, i] = 1000 + 100 * p
        header = {**pet_header(series_date="20240115"), **_canary_header(p)}
        write_series(root / pid / "PET", pet, spacing_mm=(4.0, 4.0), slice_mm=4.0, origin=(-24.0, -24.0, -8.0),
                     seed=f"pet{p}", header=header)
        ct = (np.arange(8 * 24 * 24).reshape(8, 24, 24) % 200).astype(np.int16)
        write_series(root / pid / "CT", ct, modality="CT", spacing_mm=(2.0, 2.0), slice_mm=2.0,
                     origin=(-24.0, -24.0, -8.0), seed=f"ct{p}", intercept=-1024.0, header=_canary_header(p))
        record = {"suvmax": 7.654321, "tbr_max_to_bg_max": 12.345678}
        write_study(engine, {
            "patient_id": pid, "study_uid": f"1.2.826.0.1.{p}", "folder": str(root / pid), "status": "done",
            "error": None,
            "series": [{"series_uid": f"1.2.826.0.1.{p}.1", "modality": "PT", "role": "pet", "scan_time_min": 60.0,
                        "folder": str(root / pid / "PET"), "n_files": 4, "pixel_sha256": None},
                       {"series_uid": f"1.2.826.0.1.{p}.2", "modality": "CT", "role": "ct", "scan_time_min": None,
                        "folder": str(root / pid / "CT"), "n_files": 8, "pixel_sha256": None}],
            "measurements": [{"series_uid": f"1.2.826.0.1.{p}.1", "scan_time_min": 60.0, "primary": True,
                              "record": record}],
            "provenance": None})
    engine.dispose()
    return ReadingStore(url, root, pids)


def add_readers(url: str) -> None:
    from gliopet.reading import add_reader

    engine = open_store(url)
    add_reader(engine, "alice", PASSWORDS["alice"])
    add_reader(engine, "bob", PASSWORDS["bob"])
    add_reader(engine, "admin", PASSWORDS["admin"], admin=True)
    engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn serving the reading app on a free loopback port, in a thread; log lines captured."""

    def __init__(self, url: str) -> None:
        import uvicorn

        from gliopet.reading import AppConfig, create_app

        self.engine = open_store(url)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.records: list[str] = []
        handler = logging.Handler()
        handler.emit = lambda record: self.records.append(record.getMessage())  # type: ignore[method-assign]
        self.handler = handler
        for name in ("uvicorn", "uvicorn.access", "uvicorn.error", "gliopet"):
            logging.getLogger(name).addHandler(handler)
        logging.getLogger("gliopet").setLevel(logging.DEBUG)
        config = uvicorn.Config(create_app(AppConfig(engine=self.engine)), host="127.0.0.1", port=self.port,
                                log_level="info", access_log=True, log_config=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        for name in ("uvicorn", "uvicorn.access", "uvicorn.error", "gliopet"):
            logging.getLogger(name).removeHandler(self.handler)
        self.engine.dispose()
