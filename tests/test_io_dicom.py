"""Reading DICOM series: slice order, affine, rescale, provenance, and every refusal."""

import hashlib
import random
import subprocess
import sys

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

from dicom_factory import AXIAL, ENHANCED_PET_STORAGE, base_dataset, pet_header, write_series
from gliopet.errors import DicomError, GeometryError
from gliopet.io.dicom import find_series, group_studies, read_series


def stored_volume(shape=(4, 3, 5), seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 1000, size=shape, dtype=np.int16)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "gliopet.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_axial_affine_and_rescale_per_slice(tmp_path):
    stored = stored_volume()
    slopes = [1.0, 2.0, 0.5, 4.0]
    write_series(tmp_path, stored, slopes=slopes, intercept=-10.0, spacing_mm=(2.5, 2.0), slice_mm=3.0,
                 origin=(10.0, 60.0, 0.0), header=pet_header())
    ds = pydicom.dcmread(tmp_path / "slice_0001.dcm")
    assert ds.RescaleSlope == 2.0  # check the fixture before relying on it
    vol = read_series(tmp_path)
    assert vol.array.dtype == np.float32
    expected = stored.astype(np.float64) * np.array(slopes)[:, None, None] - 10.0
    np.testing.assert_allclose(vol.array, expected, rtol=1e-6)
    # PixelSpacing is (row spacing, column spacing): i (columns) steps 2.0 mm, j (rows) 2.5 mm.
    # origin (10, 60, 0) mm; index (i, j, k) = (1, 1, 1) -> (12, 62.5, 3).
    np.testing.assert_allclose(vol.ijk_to_xyz_mm([1, 1, 1]), [12.0, 62.5, 3.0])
    assert vol.spacing_mm == pytest.approx((2.0, 2.5, 3.0))


def test_slice_order_comes_from_position_not_names_or_instance_number(tmp_path):
    stored = stored_volume(shape=(6, 3, 4))
    names = [f"{name}.dcm" for name in ["f", "a", "e", "b", "d", "c"]]
    paths = write_series(tmp_path, stored, names=names, header=pet_header())
    # Shuffle InstanceNumbers so they cannot be what orders the slices.
    numbers = list(range(1, 7))
    random.Random(3).shuffle(numbers)
    for path, number in zip(paths, numbers):
        ds = pydicom.dcmread(path)
        ds.InstanceNumber = number
        ds.save_as(path)
    vol = read_series(tmp_path)
    np.testing.assert_array_equal(vol.array, stored.astype(np.float32))
    assert vol.provenance["files"] == [str(p) for p in paths]


def test_slices_stored_in_descending_position_are_sorted_along_the_normal(tmp_path):
    stored = stored_volume(shape=(4, 2, 2))
    positions = [(0.0, 0.0, 9.0 - 3.0 * k) for k in range(4)]  # file k is at z = 9 - 3k
    write_series(tmp_path, stored, positions=positions, header=pet_header())
    vol = read_series(tmp_path)
    np.testing.assert_array_equal(vol.array, stored[::-1].astype(np.float32))
    np.testing.assert_allclose(vol.ijk_to_xyz_mm([0, 0, 0]), [0, 0, 0])
    np.testing.assert_allclose(vol.affine[:3, 2], [0, 0, 3.0])


@pytest.mark.parametrize("angle_deg", [15.0, 30.0])
def test_oblique_orientation(tmp_path, angle_deg):
    # Rows along (cos a, sin a, 0), columns along (0, 0, -1): a tilted coronal-like plane.
    a = np.radians(angle_deg)
    row = np.array([np.cos(a), np.sin(a), 0.0])
    col = np.array([0.0, 0.0, -1.0])
    normal = np.cross(row, col)
    stored = stored_volume(shape=(3, 4, 5))
    write_series(tmp_path, stored, orientation=tuple(row) + tuple(col), origin=(5.0, -3.0, 20.0), slice_mm=2.0,
                 spacing_mm=(1.5, 1.0), header=pet_header())
    vol = read_series(tmp_path)
    expected = np.array([5.0, -3.0, 20.0]) + 2 * 1.0 * row + 3 * 1.5 * col + 1 * 2.0 * normal
    np.testing.assert_allclose(vol.ijk_to_xyz_mm([2, 3, 1]), expected, atol=1e-9)


def test_provenance_hash_and_uids(tmp_path):
    stored = stored_volume(shape=(3, 2, 2))
    paths = write_series(tmp_path, stored, header=pet_header())
    vol = read_series(tmp_path)
    per_file = [hashlib.sha256(pydicom.dcmread(p).PixelData).hexdigest() for p in paths]
    assert vol.provenance["pixel_sha256"] == hashlib.sha256("".join(per_file).encode()).hexdigest()
    assert vol.provenance["sop_instance_uids"] == [str(pydicom.dcmread(p).SOPInstanceUID) for p in paths]
    assert vol.provenance["modality"] == "PT"


def test_find_series_groups_by_uid_in_any_tree(tmp_path):
    write_series(tmp_path / "deep" / "a" / "b", stored_volume(), seed="pet", header=pet_header())
    write_series(tmp_path / "x", stored_volume(shape=(2, 3, 5)), modality="CT", seed="ct", intercept=-1024)
    (tmp_path / "notes.txt").write_text("not dicom")
    (tmp_path / "DICOMDIR").write_bytes(b"\0" * 200)
    found = find_series(tmp_path)
    assert sorted(s.modality for s in found) == ["CT", "PT"]
    assert {s.n_files for s in found} == {4, 2}
    assert len(group_studies(found)) == 2  # different seeds -> different StudyInstanceUIDs


def test_file_path_selects_its_series(tmp_path):
    write_series(tmp_path, stored_volume(), seed="pet", header=pet_header())
    write_series(tmp_path, stored_volume(shape=(2, 3, 5)), modality="CT", seed="ct",
                 names=["ct1.dcm", "ct2.dcm"])
    vol = read_series(tmp_path / "ct1.dcm")
    assert vol.shape == (2, 3, 5)
    with pytest.raises(DicomError, match="holds 2 series"):
        read_series(tmp_path)
    assert read_series(tmp_path, modality="PT").shape == (4, 3, 5)


@pytest.mark.parametrize("syntax", [RLELossless, JPEGLSLossless, JPEG2000Lossless])
def test_compressed_transfer_syntaxes(tmp_path, syntax):
    # Lossless codecs (pydicom's RLE, pyjpegls, pylibjpeg-openjpeg): decoded values equal the stored ones.
    stored = stored_volume(shape=(2, 64, 64))
    paths = write_series(tmp_path, stored, slopes=[1.0, 0.5], header=pet_header())
    for path in paths:
        ds = pydicom.dcmread(path)
        ds.compress(syntax)
        ds.save_as(path)
    assert pydicom.dcmread(paths[0]).file_meta.TransferSyntaxUID == syntax
    expected = stored.astype(np.float32) * np.array([1.0, 0.5], np.float32)[:, None, None]
    np.testing.assert_array_equal(read_series(tmp_path).array, expected)


def write_enhanced(path, stored, *, positions=True, slopes=None):
    ds = base_dataset(path, ENHANCED_PET_STORAGE, "1.2.826.0.1.3680043.8.498.1")
    ds.Modality = "PT"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.2"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.3"
    ds.Rows, ds.Columns = stored.shape[1:]
    ds.NumberOfFrames = stored.shape[0]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    shared = Dataset()
    orient = Dataset()
    orient.ImageOrientationPatient = list(AXIAL)
    measures = Dataset()
    measures.PixelSpacing = [2.0, 2.0]
    measures.SliceThickness = 2.0
    shared.PlaneOrientationSequence = DicomSequence([orient])
    shared.PixelMeasuresSequence = DicomSequence([measures])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    items = []
    for k in range(stored.shape[0]):
        item = Dataset()
        if positions:
            pos = Dataset()
            pos.ImagePositionPatient = [0.0, 0.0, 2.0 * (stored.shape[0] - 1 - k)]  # stored top-down
            item.PlanePositionSequence = DicomSequence([pos])
        transform = Dataset()
        transform.RescaleSlope = (slopes or [1.0] * stored.shape[0])[k]
        transform.RescaleIntercept = 0.0
        transform.RescaleType = "BQML"
        item.PixelValueTransformationSequence = DicomSequence([transform])
        items.append(item)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(items)
    ds.PixelData = stored.astype("<i2").tobytes()
    ds.save_as(path, enforce_file_format=True)


def test_enhanced_multiframe_pet(tmp_path):
    stored = stored_volume(shape=(3, 4, 4))
    write_enhanced(tmp_path / "enh.dcm", stored, slopes=[1.0, 2.0, 3.0])
    vol = read_series(tmp_path / "enh.dcm")
    # Frames were stored from the top (z = 4) down; sorted along +z they reverse.
    expected = (stored.astype(np.float64) * np.array([1.0, 2.0, 3.0])[:, None, None])[::-1]
    np.testing.assert_allclose(vol.array, expected)
    np.testing.assert_allclose(vol.affine[:3, 2], [0, 0, 2.0])


def test_multiframe_without_per_frame_geometry_is_refused(tmp_path):
    write_enhanced(tmp_path / "enh.dcm", stored_volume(shape=(3, 4, 4)), positions=False)
    with pytest.raises(GeometryError, match="PlanePositionSequence"):
        read_series(tmp_path / "enh.dcm")


# --- refusals, through the command line: one line naming file and attribute, exit code 2 ------------


def _refusal(tmp_path, kind):
    stored = stored_volume(shape=(5, 3, 3))
    if kind == "mixed orientation":
        orientations = [AXIAL] * 4 + [(1.0, 0.0, 0.0, 0.0, 0.0, -1.0)]
        write_series(tmp_path, stored, orientations=orientations, header=pet_header())
        return "ImageOrientationPatient", "slice_0004.dcm"
    if kind == "duplicate position":
        positions = [(0, 0, 0), (0, 0, 3), (0, 0, 3), (0, 0, 6), (0, 0, 9)]
        write_series(tmp_path, stored, positions=positions, header=pet_header())
        return "duplicate", "slice_000"
    if kind == "missing slice":
        positions = [(0, 0, 0), (0, 0, 3), (0, 0, 9), (0, 0, 12), (0, 0, 15)]
        write_series(tmp_path, stored, positions=positions, header=pet_header())
        return "missing slice", "slice_0002.dcm"
    if kind == "non-uniform spacing":
        positions = [(0, 0, 0), (0, 0, 3), (0, 0, 6), (0, 0, 10.3), (0, 0, 13.3)]
        write_series(tmp_path, stored, positions=positions, header=pet_header())
        return "non-uniform", "slice_0003.dcm"
    if kind == "gantry tilt (sheared)":
        positions = [(0, 0.5 * k, 3.0 * k) for k in range(5)]
        write_series(tmp_path, stored, positions=positions, header=pet_header())
        return "gantry tilt", str(tmp_path.name)
    if kind == "gantry tilt (attribute)":
        write_series(tmp_path, stored, header={**pet_header(), "GantryDetectorTilt": 12.0})
        return "GantryDetectorTilt", "slice_0000.dcm"
    if kind == "not dicom":
        (tmp_path / "scan.dcm").write_bytes(b"hello, not a dicom file" * 10)
        return "not a DICOM file", "scan.dcm"
    raise AssertionError(kind)


REFUSALS = ["mixed orientation", "duplicate position", "missing slice", "non-uniform spacing",
            "gantry tilt (sheared)", "gantry tilt (attribute)", "not dicom"]


@pytest.mark.parametrize("kind", REFUSALS)
def test_refusals_exit_2_with_one_line_naming_file_and_attribute(tmp_path, kind):
    folder = tmp_path / "series"
    folder.mkdir()
    needle, file_hint = _refusal(folder, kind)
    target = folder / "scan.dcm" if kind == "not dicom" else folder
    out = run_cli("suv", target)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert needle.lower() in lines[0].lower()
    assert file_hint in lines[0]
    assert "Traceback" not in out.stderr
    assert "PHANTOM-0001" not in out.stderr and "TEST^PHANTOM" not in out.stderr  # no identifiers


def test_header_claiming_more_pixels_than_the_file_holds_is_refused(tmp_path):
    paths = write_series(tmp_path, stored_volume(shape=(2, 4, 4)), header=pet_header())
    ds = pydicom.dcmread(paths[0])
    ds.Rows = 4000
    ds.Columns = 4000
    ds.save_as(paths[0])
    with pytest.raises(DicomError, match="header claims .* bytes"):
        read_series(tmp_path)
