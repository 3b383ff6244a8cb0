"""``gliopet analyze``: a cohort of DICOM studies measured into the store, on a process pool or Dask.

1. The clinical CSV is validated (:mod:`gliopet.clinical`) and imported into
   the store in one transaction.
2. The DICOM tree is scanned (:func:`gliopet.io.dicom.find_series`, headers
   only); series are grouped by patient (``PatientID``, matched to the
   clinical ``patient_id``) and by study. Each study holding a PET is one job:
   its PET series (every time point), the study's CT, and the patient's MR
   series.
3. Jobs run one study at a time per worker (:func:`measure_study`, through
   :func:`gliopet.study.measure_study_files`, the same path as ``gliopet
   measure``: the PET nearest :data:`PRIMARY_TIME_MIN` after injection gets the
   automatic ROIs, the other time points are measured with them after
   registration), on a local process pool or a Dask distributed cluster;
   workers write nothing but the optional snapshot. Results come back as they
   finish and each study is written to the store in one transaction
   (:func:`gliopet.store.write_study`). Studies already stored as done are
   skipped, so a re-run after an interruption completes the cohort; a study
   that cannot be measured is stored as failed with its error and the rest go on.

The work unit is small (paths in, a few kilobytes of numbers out), so
memory per worker is one study's images whatever the cohort size.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import sys
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from ._version import __version__
from .errors import GliopetError, InputError

if TYPE_CHECKING:
    from .io.dicom import SeriesInfo
    from .study import StudyRecord

logger = logging.getLogger(__name__)

__all__ = ["PRIMARY_TIME_MIN", "TIME_POINT_STEP_MIN", "SeriesRef", "StudyJob", "AnalysisSummary",
           "measurement_parameters", "snapshot_name", "find_study_jobs", "measure_study", "run_analysis"]

#: The study's standard acquisition: 60 min after injection. The PET nearest to it is the primary measurement.
PRIMARY_TIME_MIN = 60.0
#: Nominal time points are the minutes after injection rounded to this step (a 60.8 min start is "60 min").
TIME_POINT_STEP_MIN = 10.0
#: MR series whose description names T1 (``t1_mprage``, ``T1 post``) are drawn beneath the snapshot.
T1_DESCRIPTION = re.compile(r"(^|[^a-z0-9])t1", re.IGNORECASE)


def measurement_parameters(tracer: str | None = None) -> dict[str, Any]:
    """The measurement parameters recorded in every study's provenance (the report's methods read them).

    With ``tracer`` (``analyze --tracer``), its preset (:func:`gliopet.study.load_tracer_preset`)
    decides the background method, the BTV factor and, for a dynamic series, the static window and
    the time-activity curves; the preset itself is recorded with each measurement.
    """
    from .measure import BACKGROUND_CIRCLE_DIAMETER_MM, LESION_CIRCLE_DIAMETER_MM

    out = {"lesion": "auto", "background": "auto", "suv_type": "bw", "primary_time_min": PRIMARY_TIME_MIN,
           "time_point_step_min": TIME_POINT_STEP_MIN, "lesion_roi_diameter_mm": LESION_CIRCLE_DIAMETER_MM,
           "background_roi_diameter_mm": BACKGROUND_CIRCLE_DIAMETER_MM,
           "timepoints": "measured with the primary time point's ROIs after rigid registration"}
    if tracer is not None:
        from .study import load_tracer_preset

        preset = load_tracer_preset(tracer)
        out.update(tracer=preset.name, background=preset.background, btv_factor=preset.btv_factor,
                   static_window_min=list(preset.static_window_min), dynamic=dict(preset.dynamic))
    return out


#: How long to wait for a Dask scheduler to answer (s).
DASK_CONNECT_TIMEOUT_S = 10


@dataclass(frozen=True)
class SeriesRef:
    """A series to read: its UID, absolute folder and file count (cheap to send to a worker)."""

    series_uid: str
    folder: str
    n_files: int
    description: str = ""


@dataclass(frozen=True)
class StudyJob:
    """One study to measure: plain paths and identifiers, cheap to send to a worker."""

    patient_id: str
    study_uid: str
    folder: str
    pets: tuple[SeriesRef, ...]
    ct: SeriesRef | None
    mr: tuple[SeriesRef, ...] = ()
    #: Where to draw the snapshot (absolute), or None.
    snapshot: str | None = None
    #: The tracer preset to measure with (``analyze --tracer``), or None.
    tracer: str | None = None


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


def _nominal(minutes: float | None) -> float | None:
    return None if minutes is None else TIME_POINT_STEP_MIN * round(minutes / TIME_POINT_STEP_MIN)


def _series_folder(files: tuple[Path, ...]) -> Path:
    parents = {f.parent for f in files}
    return parents.pop() if len(parents) == 1 else Path(os.path.commonpath([str(f) for f in files]))


def _ref(series: SeriesInfo) -> SeriesRef:
    return SeriesRef(series.series_uid, os.path.abspath(_series_folder(series.files)), series.n_files,
                     series.series_description)


def snapshot_name(patient_id: str, study_uid: str) -> str:
    """The snapshot's file name: a digest, never a DICOM value (no path is built from one)."""
    return "study-" + hashlib.sha256(f"{patient_id}\0{study_uid}".encode()).hexdigest()[:16] + ".png"


def find_study_jobs(root: str | Path, patient_ids: set[str], *, snapshots: str | Path | None = None,
                    tracer: str | None = None) -> tuple[list[StudyJob], int]:
    """The studies to measure under ``root``, and how many PET studies belong to no known patient.

    Series are found from headers only (:func:`gliopet.io.dicom.find_series`).
    A study needs a PET series; its CT is the study's CT series with the most
    files; MR series of the same patient (often a separate study) are listed
    for the record, and a T1 among them is drawn beneath the snapshot. With
    ``snapshots`` (a folder), each job draws its snapshot there; with
    ``tracer``, each job is measured with that preset.
    """
    from .io.dicom import find_series

    root = Path(root)
    by_patient: dict[str, dict[str, list[SeriesInfo]]] = defaultdict(lambda: defaultdict(list))
    mr_by_patient: dict[str, list[SeriesInfo]] = defaultdict(list)
    for s in find_series(root, progress=False):
        if s.modality == "MR":
            mr_by_patient[s.patient_id].append(s)
        by_patient[s.patient_id][s.study_uid].append(s)
    jobs: list[StudyJob] = []
    unknown = 0
    for pid in sorted(by_patient):
        for study_uid, members in sorted(by_patient[pid].items()):
            pets = tuple(_ref(s) for s in members if s.modality == "PT")
            if not pets:
                continue
            if pid not in patient_ids:
                unknown += 1
                continue
            cts = sorted((s for s in members if s.modality == "CT"), key=lambda s: -s.n_files)
            ct = _ref(cts[0]) if cts else None
            folder = os.path.commonpath([p.folder for p in pets] + ([ct.folder] if ct else []))
            snapshot = None if snapshots is None else os.path.abspath(Path(snapshots) / snapshot_name(pid, study_uid))
            jobs.append(StudyJob(patient_id=pid, study_uid=study_uid, folder=folder, pets=pets, ct=ct,
                                 mr=tuple(_ref(s) for s in mr_by_patient.get(pid, [])), snapshot=snapshot,
                                 tracer=tracer))
    return jobs, unknown


def _shown(folder: str, root: str | Path) -> str:
    """A study's folder as the summary names it: relative to the tree given, where it lies inside it."""
    folder, root = Path(folder), Path(os.path.abspath(root))
    return str(folder.relative_to(root)) if folder.is_relative_to(root) else str(folder)


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def _t1(job: StudyJob) -> SeriesRef | None:
    return next((m for m in job.mr if T1_DESCRIPTION.search(m.description)), None)


def _study_result(job: StudyJob, record: StudyRecord) -> dict[str, Any]:
    """The store's view of a measured study: series, one measurement per time point."""
    series: list[dict[str, Any]] = []
    if job.ct:
        series.append({"series_uid": job.ct.series_uid, "modality": "CT", "role": "ct", "scan_time_min": None,
                       "folder": job.ct.folder, "n_files": job.ct.n_files,
                       "pixel_sha256": record.input_sha256.get(job.ct.folder)})
    measurements: list[dict[str, Any]] = []
    for index, (ref, pet) in enumerate(zip(job.pets, record.pets)):
        minutes = None if pet.minutes_after_injection is None else round(pet.minutes_after_injection, 2)
        series.append({"series_uid": ref.series_uid, "modality": "PT", "role": "pet", "scan_time_min": minutes,
                       "folder": ref.folder, "n_files": ref.n_files,
                       "pixel_sha256": record.input_sha256.get(ref.folder)})
        measurements.append({"series_uid": ref.series_uid, "scan_time_min": _nominal(minutes),
                             "primary": index == record.reference, "record": record.timepoint_record(index)})
    series.extend({"series_uid": m.series_uid, "modality": "MR", "role": "mr", "scan_time_min": None,
                   "folder": m.folder, "n_files": m.n_files, "pixel_sha256": None} for m in job.mr)
    return {"series": series, "measurements": measurements}


def measure_study(job: StudyJob) -> dict[str, Any]:
    """Measure every PET time point of one study (runs on a worker; reads files, writes only the snapshot).

    Returns the dict :func:`gliopet.store.write_study` stores: status ``done``
    with series, measurements and provenance, or ``failed`` with the error
    (type and one-line message) when the study cannot be measured.
    """
    from .study import measure_study_files

    started = _now_iso()
    base = {"patient_id": job.patient_id, "study_uid": job.study_uid, "folder": job.folder}
    parameters = measurement_parameters(job.tracer)
    t1 = _t1(job) if job.snapshot else None
    try:
        record = measure_study_files(
            job.pets[0].folder, timepoints=[p.folder for p in job.pets[1:]], ct=job.ct.folder if job.ct else None,
            lesion=parameters["lesion"], background=None if job.tracer else parameters["background"],
            suv_type=parameters["suv_type"],
            primary_time_min=PRIMARY_TIME_MIN, snapshot=job.snapshot, mri=t1.folder if t1 else None,
            tracer=job.tracer)
        result = _study_result(job, record)
    except Exception as exc:  # noqa: BLE001 - any failure of one study is recorded; the cohort goes on
        if not isinstance(exc, GliopetError):
            logger.warning("study %s: unexpected %s", job.folder, type(exc).__name__, exc_info=True)
        message = " ".join(str(exc).split()) or type(exc).__name__
        return {**base, "status": "failed", "error": f"{type(exc).__name__}: {message}",
                "series": [], "measurements": [], "provenance": None}
    hashes = {s["series_uid"]: s["pixel_sha256"] for s in result["series"] if s["pixel_sha256"]}
    provenance = {"gliopet_version": __version__, "parameters": parameters, "input_sha256": hashes,
                  "host": socket.gethostname(), "started_at": started, "finished_at": _now_iso()}
    return {**base, "status": "done", "error": None, **result, "provenance": provenance}


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
                 redo: bool = False, progress: bool = True, snapshots: str | Path | None = None,
                 tracer: str | None = None) -> AnalysisSummary:
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
    snapshots : path, optional
        Folder (created) for each study's snapshot: both ROIs over PET/CT, a
        T1 MRI beneath where the patient has one; the store keeps its path.
    tracer : str, optional
        Measure with this tracer's preset (``fet``, ``fdopa``, ``met``, ``pentixafor``), as
        ``gliopet measure --tracer``: a dynamic series gets its static window summed and its
        time-activity curves (time to peak, late slope, pattern) stored with the measurement.

    Raises
    ------
    InputError
        Invalid clinical CSV or tracer, unreachable store or scheduler, no DICOM under ``directory``.
    GliopetError
        A worker process died: the studies stored so far are kept; run again to complete.
    """
    from sqlalchemy.exc import DBAPIError
    from tqdm import tqdm

    from .clinical import read_clinical_csv
    from .store import STUDY_DONE, import_patients, open_store, safe_url, normalise_url, study_states, write_study

    table = read_clinical_csv(clinical_csv, skip_invalid=skip_invalid)
    if tracer is not None:
        from .study import load_tracer_preset

        load_tracer_preset(tracer)  # an unknown tracer is refused before anything is stored
    if workers is not None and workers < 1:
        raise InputError(f"--workers {workers}: must be >= 1")
    engine = open_store(db)
    summary = AnalysisSummary(db=safe_url(normalise_url(db)))
    try:
        summary.patients_imported = import_patients(engine, table.rows, source_file=Path(clinical_csv).name)
        summary.rows_skipped = table.skipped_lines
        ids = {row["patient_id"] for row in table.rows}
        if snapshots is not None:
            Path(snapshots).mkdir(parents=True, exist_ok=True)
        jobs, summary.studies_without_patient = find_study_jobs(directory, ids, snapshots=snapshots, tracer=tracer)
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
                    summary.errors.append(f"{_shown(result['folder'], directory)}: {result['error']}")
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
