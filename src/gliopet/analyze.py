"""``gliopet analyze``: a cohort of DICOM studies measured into the store, on a process pool or Dask.

1. The clinical CSV is validated (:mod:`gliopet.clinical`) and imported into
   the store in one transaction.
2. The DICOM tree is scanned (:func:`gliopet.io.dicom.find_series`, headers
   only); series are grouped by patient (``PatientID``, matched to the
   clinical ``patient_id``) and by study. Each study holding a PET is one job:
   its PET series (every time point, minutes after injection from the
   headers), the study's CT, and the patient's MR series.
3. Jobs run one study at a time per worker (:func:`measure_study`, a pure
   function of file paths: nothing is written by workers), on a local
   process pool or a Dask distributed cluster; results come back as they
   finish and each study is written to the store in one transaction
   (:func:`gliopet.store.write_study`). Studies already stored as done are
   skipped, so a re-run after an interruption completes the cohort; a study
   that cannot be measured is stored as failed with its error and the rest go on.

The work unit is small (paths in, a few kilobytes of numbers out), so
memory per worker is one study's images whatever the cohort size.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from ._version import __version__
from .errors import GliopetError, InputError

logger = logging.getLogger(__name__)

__all__ = ["PRIMARY_TIME_MIN", "TIME_POINT_STEP_MIN", "StudyJob", "AnalysisSummary", "find_study_jobs",
           "measure_study", "run_analysis"]

#: The study's standard acquisition: 60 min after injection. The PET nearest to it is the primary measurement.
PRIMARY_TIME_MIN = 60.0
#: Nominal time points are the minutes after injection rounded to this step (a 60.8 min start is "60 min").
TIME_POINT_STEP_MIN = 10.0
#: Measurement parameters recorded in every study's provenance.
PARAMETERS = {"lesion": "auto", "background": "auto", "suv_type": "bw", "primary_time_min": PRIMARY_TIME_MIN,
              "time_point_step_min": TIME_POINT_STEP_MIN}
#: How long to wait for a Dask scheduler to answer (s).
DASK_CONNECT_TIMEOUT_S = 10


@dataclass(frozen=True)
class StudyJob:
    """One study to measure: plain paths and identifiers, cheap to send to a worker."""

    patient_id: str
    study_uid: str
    folder: str
    pets: tuple[dict[str, Any], ...]  # series_uid, folder, n_files, scan_time_min, nominal_time_min
    ct: dict[str, Any] | None
    mr: tuple[dict[str, Any], ...] = ()


@dataclass
class AnalysisSummary:
    """What a run did (no patient identifiers)."""

    db: str
    studies_found: int = 0
    measured: int = 0
    failed: int = 0
    skipped_done: int = 0
    patients_imported: dict[str, int] = field(default_factory=dict)
    rows_skipped: tuple[int, ...] = ()
    studies_without_patient: int = 0
    patients_without_study: int = 0
    errors: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        imp = self.patients_imported
        out = [f"store: {self.db}",
               f"clinical: {imp.get('added', 0)} patients added, {imp.get('updated', 0)} updated, "
               f"{imp.get('unchanged', 0)} unchanged"]
        if self.rows_skipped:
            out.append(f"clinical: skipped invalid row(s) on line(s) {', '.join(map(str, self.rows_skipped))}")
        out.append(f"studies: {self.studies_found} found, {self.measured} measured, {self.failed} failed, "
                   f"{self.skipped_done} already done")
        if self.studies_without_patient:
            out.append(f"warning: {self.studies_without_patient} PET stud(ies) whose PatientID is not in the "
                       "clinical CSV were not analysed")
        if self.patients_without_study:
            out.append(f"warning: {self.patients_without_study} patient(s) of the clinical CSV have no PET study")
        out.extend(f"failed: {e}" for e in self.errors)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _header_time(ds, date_kw: str, time_kw: str) -> datetime | None:
    d, t = str(ds.get(date_kw, "") or ""), str(ds.get(time_kw, "") or "")
    if len(d) != 8 or len(t) < 6:
        return None
    try:
        return datetime.strptime(d + t.split(".")[0][:6], "%Y%m%d%H%M%S")
    except ValueError:
        return None


def _minutes_after_injection(path: Path) -> float | None:
    """Series start minus radiopharmaceutical start (min), from one header; None when not computable."""
    import pydicom

    ds = pydicom.dcmread(path, stop_before_pixels=True)
    scan = _header_time(ds, "SeriesDate", "SeriesTime") or _header_time(ds, "AcquisitionDate", "AcquisitionTime")
    seq = ds.get("RadiopharmaceuticalInformationSequence")
    if scan is None or not seq:
        return None
    item = seq[0]
    start_dt = str(item.get("RadiopharmaceuticalStartDateTime", "") or "")
    injection = None
    if len(start_dt) >= 14:
        try:
            injection = datetime.strptime(start_dt[:14], "%Y%m%d%H%M%S")
        except ValueError:
            injection = None
    if injection is None:
        t = str(item.get("RadiopharmaceuticalStartTime", "") or "")
        if len(t) >= 6:
            try:
                injection = datetime.strptime(scan.strftime("%Y%m%d") + t[:6], "%Y%m%d%H%M%S")
            except ValueError:
                injection = None
    if injection is None:
        return None
    return round((scan - injection).total_seconds() / 60.0, 2)


def _nominal(minutes: float | None) -> float | None:
    return None if minutes is None else TIME_POINT_STEP_MIN * round(minutes / TIME_POINT_STEP_MIN)


def _series_folder(files: tuple[Path, ...]) -> Path:
    parents = {f.parent for f in files}
    return parents.pop() if len(parents) == 1 else Path(os.path.commonpath([str(f) for f in files]))


def find_study_jobs(root: str | Path, patient_ids: set[str]) -> tuple[list[StudyJob], int]:
    """The studies to measure under ``root``, and how many PET studies belong to no known patient.

    Series are found from headers only. A study needs a PET series; its CT is
    the study's CT series with the most files; MR series of the same patient
    (often a separate study) are listed for the record.
    """
    import pydicom

    from .io.dicom import find_series

    root = Path(root)
    series = find_series(root, progress=False)
    by_patient: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    mr_by_patient: dict[str, list] = defaultdict(list)
    for s in series:
        header = pydicom.dcmread(s.files[0], stop_before_pixels=True, specific_tags=["PatientID"])
        pid = str(header.get("PatientID", "") or "")
        if s.modality in ("MR",):
            mr_by_patient[pid].append(s)
        by_patient[pid][s.study_uid].append(s)
    jobs: list[StudyJob] = []
    unknown = 0
    for pid in sorted(by_patient):
        for study_uid, members in sorted(by_patient[pid].items()):
            pets = [s for s in members if s.modality == "PT"]
            if not pets:
                continue
            if pid not in patient_ids:
                unknown += 1
                continue
            cts = sorted((s for s in members if s.modality == "CT"), key=lambda s: -s.n_files)
            pet_items = []
            for s in pets:
                minutes = _minutes_after_injection(s.files[0])
                pet_items.append({"series_uid": s.series_uid, "folder": str(_series_folder(s.files)),
                                  "n_files": s.n_files, "scan_time_min": minutes,
                                  "nominal_time_min": _nominal(minutes)})
            pet_items.sort(key=lambda p: (p["scan_time_min"] is None, p["scan_time_min"] or 0.0, p["series_uid"]))
            ct = None
            if cts:
                ct = {"series_uid": cts[0].series_uid, "folder": str(_series_folder(cts[0].files)),
                      "n_files": cts[0].n_files}
            mr = tuple({"series_uid": s.series_uid, "folder": str(_series_folder(s.files)), "n_files": s.n_files}
                       for s in mr_by_patient.get(pid, []))
            folder = os.path.commonpath([p["folder"] for p in pet_items] + ([ct["folder"]] if ct else []))
            jobs.append(StudyJob(patient_id=pid, study_uid=study_uid, folder=str(Path(folder).relative_to(root))
                                 if Path(folder).is_relative_to(root) else folder,
                                 pets=tuple(pet_items), ct=ct, mr=mr))
    return jobs, unknown


def _primary_index(pets: tuple[dict[str, Any], ...]) -> int:
    def distance(i: int) -> tuple[float, int]:
        t = pets[i]["scan_time_min"]
        return (abs(t - PRIMARY_TIME_MIN) if t is not None else float("inf"), i)

    return min(range(len(pets)), key=distance)


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def measure_study(job: StudyJob) -> dict[str, Any]:
    """Measure every PET time point of one study (runs on a worker; reads files, writes nothing).

    Returns the dict :func:`gliopet.store.write_study` stores: status ``done``
    with series, measurements and provenance, or ``failed`` with the error
    (type and one-line message) when the study cannot be measured.
    """
    from .measure._files import read_ct, read_pet
    from .measure._study import measure_pet

    started = _now_iso()
    base = {"patient_id": job.patient_id, "study_uid": job.study_uid, "folder": job.folder}
    series: list[dict[str, Any]] = []
    measurements: list[dict[str, Any]] = []
    hashes: dict[str, str] = {}
    try:
        ct_volume = read_ct(job.ct["folder"]) if job.ct else None
        if job.ct:
            hashes[job.ct["series_uid"]] = ct_volume.provenance.get("pixel_sha256")
            series.append({**job.ct, "modality": "CT", "role": "ct", "scan_time_min": None,
                           "pixel_sha256": hashes[job.ct["series_uid"]]})
        primary = _primary_index(job.pets)
        for index, item in enumerate(job.pets):
            pet = read_pet(item["folder"], suv_type=PARAMETERS["suv_type"])
            sha = pet.provenance.get("pixel_sha256")
            hashes[item["series_uid"]] = sha
            measurement = measure_pet(pet, ct=ct_volume, lesion="auto", background="auto",
                                      pet_name=item["folder"], ct_name=job.ct["folder"] if job.ct else "CT")
            record = measurement.to_dict()
            record["suv_type"] = PARAMETERS["suv_type"]
            record["suv"] = dict(pet.provenance.get("suv", {}))
            record["inputs"] = {"pet": item["folder"], "ct": job.ct["folder"] if job.ct else None,
                                "lesion": "auto", "background": "auto"}
            record["software"] = {"name": "gliopet", "version": __version__}
            series.append({"series_uid": item["series_uid"], "modality": "PT", "role": "pet",
                           "scan_time_min": item["scan_time_min"], "folder": item["folder"],
                           "n_files": item["n_files"], "pixel_sha256": sha})
            measurements.append({"series_uid": item["series_uid"], "scan_time_min": item["nominal_time_min"],
                                 "primary": index == primary, "record": record})
            del pet
    except Exception as exc:  # noqa: BLE001 - any failure of one study is recorded; the cohort goes on
        if not isinstance(exc, GliopetError):
            logger.warning("study %s: unexpected %s", job.folder, type(exc).__name__, exc_info=True)
        message = " ".join(str(exc).split()) or type(exc).__name__
        return {**base, "status": "failed", "error": f"{type(exc).__name__}: {message}",
                "series": [], "measurements": [], "provenance": None}
    series.extend({**m, "modality": "MR", "role": "mr", "scan_time_min": None, "pixel_sha256": None}
                  for m in job.mr)
    provenance = {"gliopet_version": __version__, "parameters": dict(PARAMETERS), "input_sha256": hashes,
                  "host": socket.gethostname(), "started_at": started, "finished_at": _now_iso()}
    return {**base, "status": "done", "error": None, "series": series, "measurements": measurements,
            "provenance": provenance}


def _local_results(jobs: list[StudyJob], workers: int) -> Iterator[dict[str, Any]]:
    """Results in completion order from a process pool, at most ``2 * workers`` studies in flight."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # workers are plain children: no inherited state
    pending = iter(jobs)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        running = set()
        for job in pending:
            running.add(pool.submit(measure_study, job))
            if len(running) >= 2 * workers:
                break
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
                nxt = next(pending, None)
                if nxt is not None:
                    running.add(pool.submit(measure_study, nxt))


def _dask_results(jobs: list[StudyJob], scheduler: Any) -> Iterator[dict[str, Any]]:
    """Results in completion order from a Dask distributed cluster (an address or a Client/cluster)."""
    from distributed import Client, as_completed

    own = not hasattr(scheduler, "submit")
    try:
        client = Client(scheduler, timeout=f"{DASK_CONNECT_TIMEOUT_S}s") if own else scheduler
    except (OSError, TimeoutError) as exc:
        raise InputError(f"--scheduler {scheduler}: cannot connect to the Dask scheduler "
                         f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None
    try:
        futures = [client.submit(measure_study, job, pure=False, key=f"gliopet-study-{i}-{os.getpid()}")
                   for i, job in enumerate(jobs)]
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - measure_study records study errors itself: this is the cluster
                raise GliopetError(f"analysis interrupted: the Dask cluster lost a study ({type(exc).__name__}); "
                                   "the studies stored so far are complete; run the same command again to finish"
                                   ) from None
            future.release()
            yield result
    finally:
        if own:
            client.close()


def run_analysis(directory: str | Path, clinical_csv: str | Path, *, db: str | None = None,
                 workers: int | None = None, scheduler: Any = None, skip_invalid: bool = False,
                 redo: bool = False, progress: bool = True) -> AnalysisSummary:
    """Import the clinical CSV, measure every study under ``directory``, store everything.

    Parameters
    ----------
    directory : path
        DICOM tree (read-only to gliopet).
    clinical_csv : path
        Clinical CSV (:mod:`gliopet.clinical`).
    db : str, optional
        Store URL or SQLite file (:func:`gliopet.store.open_store`).
    workers : int, optional
        Local worker processes (default: CPU cores). Ignored with ``scheduler``.
    scheduler : str or distributed.Client, optional
        Dask scheduler address (``tcp://host:8786``) or a client: run on that cluster.
    skip_invalid : bool
        Import the clinical CSV's valid rows and skip (and name) the others.
    redo : bool
        Measure studies already stored as done again (their rows are replaced).

    Raises
    ------
    InputError
        Invalid clinical CSV, unreachable store or scheduler, no DICOM under ``directory``.
    GliopetError
        A worker process died: the studies stored so far are kept; run again to complete.
    """
    from sqlalchemy.exc import DBAPIError
    from tqdm import tqdm

    from .clinical import read_clinical_csv
    from .store import STUDY_DONE, import_patients, open_store, safe_url, normalise_url, study_states, write_study

    table = read_clinical_csv(clinical_csv, skip_invalid=skip_invalid)
    if workers is not None and workers < 1:
        raise InputError(f"--workers {workers}: must be >= 1")
    engine = open_store(db)
    summary = AnalysisSummary(db=safe_url(normalise_url(db)))
    try:
        summary.patients_imported = import_patients(engine, table.rows, source_file=Path(clinical_csv).name)
        summary.rows_skipped = table.skipped_lines
        ids = {row["patient_id"] for row in table.rows}
        jobs, summary.studies_without_patient = find_study_jobs(directory, ids)
        summary.studies_found = len(jobs)
        summary.patients_without_study = len(ids - {j.patient_id for j in jobs})
        states = study_states(engine)
        todo = [j for j in jobs if redo or states.get((j.patient_id, j.study_uid)) != STUDY_DONE]
        summary.skipped_done = len(jobs) - len(todo)
        if not todo:
            return summary
        if scheduler is not None:
            results = _dask_results(todo, scheduler)
        else:
            results = _local_results(todo, min(workers or os.cpu_count() or 1, len(todo)))
        bar = tqdm(total=len(todo), desc="analyze", unit="study", file=sys.stderr, disable=not progress)
        try:
            for result in results:
                write_study(engine, result)
                if result["status"] == STUDY_DONE:
                    summary.measured += 1
                else:
                    summary.failed += 1
                    summary.errors.append(f"{result['folder']}: {result['error']}")
                bar.update()
        except DBAPIError as exc:
            raise GliopetError(
                f"--db {summary.db}: writing a study failed ({type(exc.orig).__name__}: "
                f"{' '.join(str(exc.orig).split())[:200]}); {summary.measured + summary.failed} studies were stored "
                "(each complete); run the same command again to finish") from None
        except BrokenProcessPool:
            raise GliopetError(
                f"analysis interrupted: a worker process died; {summary.measured + summary.failed} of "
                f"{len(todo)} studies were stored (each complete); run the same command again to finish") from None
        finally:
            bar.close()
    finally:
        engine.dispose()
    return summary
