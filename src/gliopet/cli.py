"""The ``gliopet`` command line: parse, call the library, print.

Thin by design: no computation here. Every ``GliopetError`` becomes one line on
stderr and exit code 2; nothing else is printed for it (no traceback, no
patient identifier).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from ._version import __version__
from .errors import GliopetError
from .jsonable import json_default

logger = logging.getLogger(__name__)

EXIT_BAD_INPUT = 2


class _Group(click.Group):
    """Click group that maps gliopet's errors to one line and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GliopetError as exc:
            _fail(str(exc))
        except (MemoryError, RecursionError) as exc:  # absurd inputs must not trace back
            _fail(f"input too large or too deep to process ({type(exc).__name__})")

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # DESIGN.md order, not alphabetical


def _fail(message: str) -> NoReturn:
    click.echo(f"gliopet: error: {' '.join(message.split())}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def _not_built(command: str, issue: str) -> NoReturn:
    click.echo(f"gliopet {command}: not built yet (planned in the issue '{issue}')", err=True)
    sys.exit(EXIT_BAD_INPUT)


def _print_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=False, default=json_default))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gliopet")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-v info, -vv debug).")
def main(verbose: int) -> None:
    """gliopet: semi-quantitative glioma PET from DICOM to publishable tables."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@main.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("demo-output"), show_default=True, help="Output folder (new or empty).")
@click.option("--patients", "n_patients", type=click.IntRange(min=1),
              help="Simulate only the first N patients of the study's table (default: all 29).")
@click.option("--workers", type=click.IntRange(min=1), help="Processes (default: CPU cores).")
@click.option("--seed", type=int, default=None, help="Simulation seed (default: the demo's fixed seed).")
@click.option("--fet-patients", type=click.IntRange(min=0), default=None,
              help="Patients of the dynamic 18F-FET cohort (default: 10; 0: none).")
def demo(out_dir: Path, n_patients: int | None, workers: int | None, seed: int | None,
         fet_patients: int | None = None) -> None:
    """Synthetic cohort -> full analysis -> report."""
    from .demo import DEFAULT_SEED, FET_PATIENTS, run_demo

    for line in run_demo(out_dir, n_patients=n_patients, workers=workers,
                         seed=DEFAULT_SEED if seed is None else seed,
                         fet_patients=FET_PATIENTS if fet_patients is None else fet_patients):
        click.echo(line)


@main.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--batch", "batches", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Radiopharmacy batch record: check each PET's dose against the recorded injection.")
def inspect(path: Path, as_json: bool, batches: tuple[Path, ...]) -> None:
    """Studies and series found; what is missing for SUV."""
    from .inspect import inspect_tree, format_inspection

    result = inspect_tree(path, batches=batches)
    if as_json:
        _print_json(result)
    else:
        click.echo(format_inspection(result))


@main.command()
@click.argument("series", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def suv(series: Path, as_json: bool) -> None:
    """SUV factor with every input and its source."""
    from .io.suv_inputs import suv_report_for_series, format_suv_report

    report = suv_report_for_series(series)
    if as_json:
        _print_json(report)
    else:
        click.echo(format_suv_report(report))


@main.command()
@click.argument("pet", type=click.Path(exists=True, path_type=Path))
@click.option("--ct", type=click.Path(exists=True, path_type=Path))
@click.option("--lesion", default="auto", show_default=True, help="auto | X,Y,Z (LPS mm) | MASK")
@click.option("--background", default="auto", show_default=True, help="auto | X,Y,Z (LPS mm) | crescent")
@click.option("--json", "as_json", is_flag=True)
@click.option("--snapshot", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a PNG of the measured slices with both circles over PET/CT fusion.")
@click.option("--suv-type", default="bw", show_default=True,
              type=click.Choice(["bw", "lbm_janmahasatian", "bsa", "ibw"]), help="SUV normalisation (DICOM PET).")
@click.option("--mri", type=click.Path(exists=True, path_type=Path),
              help="An MRI registered to the CT (else the PET): carries the --lesion MASK drawn on it, "
                   "and is drawn beneath the PET/CT in --snapshot.")
@click.option("--timepoint", "timepoints", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Another PET of the patient (e.g. 30 min p.i.), measured with the same ROIs. Repeatable.")
@click.option("--seg", "seg_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the ROIs as a DICOM SEG on the PET grid (DICOM PET only); each --timepoint gets its own "
                   "beside it, FILE_run-N.dcm (N: its place in scan-time order).")
@click.option("--sr", "sr_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the measurements as a DICOM SR TID 1500 report (with --seg).")
@click.option("--frames", help="START-END minutes after injection: sum a DYNAMIC or GATED PET's frames in that "
                               "window (frame-duration weighted) into one static image, e.g. 20-40 for FET.")
@click.option("--tracer", help="Apply the tracer's preset (fet, fdopa, met, pentixafor): static window, background "
                               "method, BTV factor, and for a dynamic series the time-activity curves. Each value "
                               "is overridden by --frames, --background, --btv-factor, --tac-*; all are recorded.")
@click.option("--btv-factor", type=float, help="BTV threshold: voxels >= FACTOR x background mean [1.6, or the preset's].")
@click.option("--tac-isocontour", type=float, help="Lesion TAC VOI: fraction of the summed image's maximum [preset].")
@click.option("--tac-slope-window", help="START-END minutes p.i. of the late-slope fit [preset, e.g. 20-40].")
@click.option("--tac-plateau-slope", type=float,
              help="Plateau when |slope| / SUV at the window's middle is below this, per hour [preset].")
def measure(pet: Path, ct: Path | None, lesion: str, background: str, as_json: bool, snapshot: Path | None,
            suv_type: str, mri: Path | None, timepoints: tuple[Path, ...], seg_file: Path | None = None,
            sr_file: Path | None = None, frames: str | None = None, tracer: str | None = None,
            btv_factor: float | None = None, tac_isocontour: float | None = None,
            tac_slope_window: str | None = None, tac_plateau_slope: float | None = None) -> None:
    """Lesion and background ROIs, SUVmax/mean/peak, BTV, TBR.

    PET and CT are DICOM (a file or a folder of one series) or NIfTI; a NIfTI
    PET must already be in SUV (g/mL). MASK is a NIfTI or DICOM SEG on the PET grid.
    """
    from .study import format_record, measure_study_files, parse_frames_option

    if sr_file is not None and seg_file is None:
        raise click.UsageError("--sr references the ROIs' SEG: give --seg FILE too")
    if tracer is not None and click.get_current_context().get_parameter_source("background").name == "DEFAULT":
        background = None  # the preset's
    dynamic = {"tac_isocontour": tac_isocontour, "pattern_plateau_relative_slope_per_h": tac_plateau_slope,
               "slope_window_min": None if tac_slope_window is None else list(parse_frames_option(tac_slope_window))}
    study = measure_study_files(pet, ct=ct, lesion=lesion, background=background, suv_type=suv_type,
                                snapshot=snapshot, mri=mri, timepoints=timepoints, frames=frames, tracer=tracer,
                                btv_factor=btv_factor, dynamic=dynamic)
    written = []
    if seg_file is not None:
        from .export import export_study

        written = export_study(study, seg=seg_file, sr=sr_file)
    record = study.to_dict()
    if as_json:
        _print_json(record)
    else:
        click.echo(format_record(record))
        for path in written:
            click.echo(f"written: {path}")


@main.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--clinical", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="Clinical CSV, one row per patient (DESIGN.md schema).")
@click.option("--db", "db_url", help="Store: sqlite:///FILE, a SQLite file, or postgresql://... "
                                     "[default: gliopet.sqlite here]")
@click.option("--workers", type=int, help="Local worker processes [default: CPU cores].")
@click.option("--scheduler", help="Dask scheduler address (tcp://HOST:PORT): run on that cluster.")
@click.option("--skip-invalid", is_flag=True, help="Import the clinical CSV's valid rows; name the skipped ones.")
@click.option("--redo", is_flag=True, help="Measure studies already stored as done again.")
@click.option("--snapshots", "snapshots_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Draw each study's snapshot (both ROIs over PET/CT, a T1 beneath) into this folder.")
@click.option("--tracer", help="Measure with the tracer's preset (fet, fdopa, met, pentixafor), as measure --tracer: "
                               "a dynamic series gets its static window and time-activity curves.")
def analyze(directory: Path, clinical: Path, db_url: str | None, workers: int | None,
            scheduler: str | None, skip_invalid: bool = False, redo: bool = False,
            snapshots_dir: Path | None = None, tracer: str | None = None) -> None:
    """Measure a cohort into the store (process pool or Dask)."""
    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers or --scheduler, not both")
    from .analyze import run_analysis

    summary = run_analysis(directory, clinical, db=db_url, workers=workers, scheduler=scheduler,
                           skip_invalid=skip_invalid, redo=redo, snapshots=snapshots_dir, tracer=tracer)
    for line in summary.lines():
        click.echo(line)
    if summary.failed:
        _fail(f"{summary.failed} of {summary.studies_found} studies could not be measured "
              "(stored as failed with their error; the others are stored)")


@main.command()
@click.argument("csv", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--db", "db_url")
@click.option("--json", "as_json", is_flag=True)
def stats(csv: Path | None, db_url: str | None, as_json: bool) -> None:
    """Table 1, Table 2, tests."""
    if db_url is None and csv is None:
        raise click.UsageError("give a cohort CSV or --db URL")
    from .cohort import load_cohort_csv, load_cohort_store
    from .stats import analyse_cohort, format_stats

    source = load_cohort_store(db_url) if db_url is not None else load_cohort_csv(csv)
    result = analyse_cohort(source.cohort)
    if as_json:
        _print_json(result)
    else:
        click.echo(format_stats(result))


@main.command()
@click.argument("csv", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--db", "db_url")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--figures", "figures_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also save every figure here as SVG and PNG.")
@click.option("--dicom", "dicom_dir", type=click.Path(exists=True, path_type=Path),
              help="The cohort's DICOM tree, to check each PET's dose against --batch.")
@click.option("--batch", "batches", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Radiopharmacy batch record (repeatable): injections listed and checked (needs --dicom).")
def report(csv: Path | None, db_url: str | None, out_file: Path, figures_dir: Path | None,
           dicom_dir: Path | None = None, batches: tuple[Path, ...] = ()) -> None:
    """HTML or PDF report."""
    if bool(dicom_dir) != bool(batches):
        raise click.UsageError("--dicom and --batch go together")
    if db_url is None and csv is None:
        raise click.UsageError("give a cohort CSV or --db URL")
    checks: list = []
    if dicom_dir is not None:
        from .inspect import injection_checks

        checks = injection_checks(dicom_dir, batches=batches)
    from .cohort import load_cohort_csv, load_cohort_store
    from .report import write_report

    source = load_cohort_store(db_url) if db_url is not None else load_cohort_csv(csv)
    written = write_report(source, out_file, figures_dir=figures_dir, injection_checks=checks)
    click.echo(f"report written: {written}")


@main.command()
@click.option("--db", "db_url", required=True, help="Store: sqlite:///FILE, a SQLite file, or postgresql://...")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--certificate", "certfile", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TLS certificate (PEM): serve HTTPS, cookies marked Secure.")
@click.option("--key", "keyfile", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TLS private key (PEM) of --certificate.")
def serve(db_url: str, host: str, port: int, certfile: Path | None, keyfile: Path | None) -> None:
    """Blinded reading web app."""
    if bool(certfile) != bool(keyfile):
        raise click.UsageError("--certificate and --key go together")
    from .reading import serve_app

    serve_app(db_url, host=host, port=port, certfile=certfile, keyfile=keyfile)


def _read_password(name: str) -> str:
    if sys.stdin.isatty():
        return click.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@main.group()
def readers() -> None:
    """Reader accounts of the reading app: add, list, disable."""


@readers.command("add")
@click.argument("name")
@click.option("--db", "db_url", required=True)
@click.option("--admin", is_flag=True, help="May adjudicate, reopen reads and export the audit trail.")
def readers_add(name: str, db_url: str, admin: bool) -> None:
    """Add a reader; the password is read from a prompt (or the first line of standard input)."""
    from .reading import add_reader
    from .store import open_store

    password = _read_password(name)
    engine = open_store(db_url)
    try:
        add_reader(engine, name, password, admin=admin)
    finally:
        engine.dispose()
    click.echo(f"reader {name} added" + (" (admin)" if admin else ""))


@readers.command("list")
@click.option("--db", "db_url", required=True)
def readers_list(db_url: str) -> None:
    """List the accounts."""
    from .reading import list_readers
    from .store import open_store

    engine = open_store(db_url)
    try:
        for r in list_readers(engine):
            flags = [f for f, on in (("admin", r["admin"]), ("disabled", r["disabled"])) if on]
            click.echo(f"{r['name']}\t{','.join(flags)}")
    finally:
        engine.dispose()


@readers.command("disable")
@click.argument("name")
@click.option("--db", "db_url", required=True)
def readers_disable(name: str, db_url: str) -> None:
    """Disable an account (it can no longer log in)."""
    from .reading import disable_reader
    from .store import open_store

    engine = open_store(db_url)
    try:
        disable_reader(engine, name)
    finally:
        engine.dispose()
    click.echo(f"reader {name} disabled")


@main.group()
def reading() -> None:
    """Reading sessions: new (cases and readers' orders), export (the reads as CSV)."""


@reading.command("new")
@click.argument("name")
@click.option("--db", "db_url", required=True)
@click.option("--readers", "reader_names", required=True, help="Reader names, comma-separated (A,B).")
@click.option("--seed", type=int, help="Seed of the readers' orders (default: random; recorded).")
def reading_new(name: str, db_url: str, reader_names: str, seed: int | None) -> None:
    """Create a reading session over the store's measured studies."""
    from .reading import new_session
    from .store import open_store

    engine = open_store(db_url)
    try:
        made = new_session(engine, name, readers=[r.strip() for r in reader_names.split(",") if r.strip()],
                           seed=seed)
    finally:
        engine.dispose()
    click.echo(f"reading session {made['name']}: {made['cases']} cases, readers {', '.join(made['readers'])}, "
               f"seed {made['seed']}")


@reading.command("export")
@click.argument("name")
@click.option("--db", "db_url", required=True)
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path))
def reading_export(name: str, db_url: str, out_file: Path) -> None:
    """Write the session's reads (one row per case, each reader and the consensus) as CSV."""
    from .reading import export_reads
    from .store import open_store

    engine = open_store(db_url)
    try:
        written = export_reads(engine, name, out_file)
    finally:
        engine.dispose()
    click.echo(f"reads written: {written}")


@main.command()
@click.argument("batch", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--certificate", "certificate", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the release certificate to FILE.html or FILE.pdf.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write certificate.html and certificate.pdf into this folder.")
def qc(batch: Path, as_json: bool, certificate: Path | None, out_dir: Path | None) -> None:
    """Radiopharmaceutical release check (exit 0 released, 1 not released, 2 bad input)."""
    from datetime import datetime, timezone

    from .radiopharmacy import format_decision, run_release_check, write_certificate

    decision = run_release_check(batch)
    issued_at = datetime.now(timezone.utc)
    targets = [certificate] if certificate else []
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
        targets += [out_dir / "certificate.html", out_dir / "certificate.pdf"]
    written = [write_certificate(decision, target, issued_at=issued_at) for target in targets]
    if as_json:
        _print_json({**decision.to_dict(), "certificates": [str(p) for p in written]})
    else:
        click.echo(format_decision(decision))
        for path in written:
            click.echo(f"certificate: {path}")
    if not decision.released:
        sys.exit(1)


@main.command()
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--key-file", "key_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Secret key (created, mode 600, when absent; default OUT.deid-key beside OUT). "
                   "The patient map and the quarantine report are written beside it.")
@click.option("--workers", type=click.IntRange(min=1), help="Processes (default: CPU cores).")
def deid(src: Path, dst: Path, key_file: Path | None, workers: int | None) -> None:
    """De-identify a DICOM tree into the existing folder DST, SUV kept exact (PS3.15 E.1-1)."""
    import os

    from .deid import deidentify_tree

    summary = deidentify_tree(src, dst, key_file=key_file, workers=workers or os.cpu_count() or 1,
                              progress=True)
    click.echo(f"{summary.written} file(s) de-identified into {summary.out_dir}; "
               f"{len(summary.quarantined)} quarantined (reasons: {summary.quarantine_report})")
    click.echo(f"key: {summary.key_file}{' (new)' if summary.key_created else ''}; "
               f"patient map: {summary.map_file}")


@main.command()
@click.argument("what", type=click.Choice(["patient", "cohort"]))
@click.option("--like", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--n", "n_patients", type=click.IntRange(1, 10_000), default=5, show_default=True,
              help="Patients of a random cohort (without --like).")
@click.option("--tracer", default="pentixafor", show_default=True, help="pentixafor | fet | fdg | fdopa")
@click.option("--flavour", type=click.Choice(["siemens", "ge", "philips", "mixed"]), default="siemens",
              show_default=True, help="Vendor flavour of the PET DICOM (mixed: cycle the three).")
@click.option("--mr", "with_mr", is_flag=True, help="Also write MR T1, T2 and FLAIR series.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--force", is_flag=True, help="Replace a non-empty output folder.")
def simulate(what: str, like: Path | None, out_dir: Path, seed: int, n_patients: int, tracer: str,
             flavour: str, with_mr: bool, workers: int, force: bool) -> None:
    """Digital patients, PET/CT acquisition, OSEM, DICOM."""
    from .simulate.cohort import patient_specs_like, random_patient_spec, read_like_csv, simulate_cohort

    flavours = ("siemens", "ge", "philips") if flavour == "mixed" else (flavour,)
    if like is not None:
        specs = patient_specs_like(read_like_csv(like), seed=seed, flavours=flavours, with_mr=with_mr,
                                   tracer=tracer)
        specs = specs[:1] if what == "patient" else specs
    else:
        count = 1 if what == "patient" else n_patients
        specs = [random_patient_spec(seed, i, tracer=tracer, flavour=flavours[(i - 1) % len(flavours)],
                                     with_mr=with_mr) for i in range(1, count + 1)]
    result = simulate_cohort(specs, out_dir, seed=seed, workers=workers, overwrite=force, progress=True)
    click.echo(f"{len(result.patients)} simulated patient(s) in {result.root}")
    click.echo(f"clinical CSV: {result.clinical_csv}")
    click.echo(f"ground truth: {result.ground_truth_csv} and <patient>/ground_truth.json")


@main.command()
@click.argument("kind", type=click.Choice(["seg", "sr", "nifti"], case_sensitive=False))
@click.option("--db", "db_url", required=True, help="The store: sqlite:///FILE, a SQLite file, or postgresql://...")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--patient", "patients", multiple=True, help="Only this clinical patient_id (repeatable).")
def export(kind: str, db_url: str, out_dir: Path, patients: tuple[str, ...]) -> None:
    """DICOM SEG of the ROIs, SR TID 1500, NIfTI (BIDS-PET derivative), from the store."""
    from .export import export_store

    for line in export_store(db_url, {kind.lower(): out_dir}, patients=patients):
        click.echo(line)


@main.command()
@click.argument("baseline", type=click.Path(exists=True, path_type=Path))
@click.argument("followup", type=click.Path(exists=True, path_type=Path))
@click.option("--ct", type=click.Path(exists=True, path_type=Path), help="The baseline's CT.")
@click.option("--lesion", default="auto", show_default=True, help="auto | X,Y,Z (LPS mm) | MASK (on the baseline)")
@click.option("--background", help="auto | X,Y,Z (LPS mm) | crescent [auto, or the tracer preset's]")
@click.option("--tracer", help="Tracer preset (fet, fdopa, met, pentixafor), as for measure.")
@click.option("--btv-factor", type=float, help="BTV threshold factor [1.6, or the preset's].")
@click.option("--rules", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Response rules JSON [gliopet's response_rules.json: the user's thresholds, not PET RANO 1.0].")
@click.option("--suv-type", default="bw", show_default=True,
              type=click.Choice(["bw", "lbm_janmahasatian", "bsa", "ibw"]))
@click.option("--same-frame", is_flag=True, help="The scans share one frame of reference without movement: "
                                                 "do not register the follow-up.")
@click.option("--json", "as_json", is_flag=True)
def compare(baseline: Path, followup: Path, ct: Path | None, lesion: str, background: str | None,
            tracer: str | None, btv_factor: float | None, rules: Path | None, suv_type: str, same_frame: bool,
            as_json: bool) -> None:
    """Two scans of one patient: changes of TBRmax, TBRmean and BTV with the same ROIs, and the response."""
    from .study import compare_study_files

    result = compare_study_files(baseline, followup, rules=rules, ct=ct, lesion=lesion, background=background,
                                 tracer=tracer, btv_factor=btv_factor, suv_type=suv_type, register=not same_frame)
    if as_json:
        _print_json(result)
        return
    def shown(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    for key, change in result["changes"].items():
        rel = change["relative_change"]
        click.echo(f"{key:20s} {shown(change['baseline']):>9} -> {shown(change['followup']):<9} "
                   + ("" if rel is None else f"{100 * rel:+.1f} %"))
    click.echo(f"response: {result['response']}  ({result['rules']['name']})")



if __name__ == "__main__":  # pragma: no cover
    main()
