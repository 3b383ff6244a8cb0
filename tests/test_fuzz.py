"""Damaged input never produces a traceback: either a Volume or a GliopetError naming the file."""

import subprocess
import sys

import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dicom_factory import pet_header, write_series
from gliopet.errors import GliopetError
from gliopet.io import find_series, read_series, suv_report_for_series


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "gliopet.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def good_series(tmp_path_factory):
    folder = tmp_path_factory.mktemp("good")
    write_series(folder, np.arange(2 * 6 * 6, dtype=np.int16).reshape(2, 6, 6), header=pet_header())
    return folder


def _read_everything(folder):
    try:
        read_series(folder)
        suv_report_for_series(folder)
    except GliopetError as exc:
        assert str(exc), "errors carry a message"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_byte_damage(tmp_path_factory, good_series, data):
    folder = tmp_path_factory.mktemp("fuzz")
    for src in sorted(good_series.iterdir()):
        (folder / src.name).write_bytes(src.read_bytes())
    target = folder / "slice_0001.dcm"
    raw = bytearray(target.read_bytes())
    action = data.draw(st.sampled_from(["truncate", "flip", "zero_block"]))
    if action == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    elif action == "flip":
        for _ in range(data.draw(st.integers(1, 20))):
            raw[data.draw(st.integers(132, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    else:
        start = data.draw(st.integers(132, len(raw) - 16))
        raw[start:start + 16] = b"\xff" * 16
    target.write_bytes(bytes(raw))
    _read_everything(folder)


@pytest.mark.parametrize("tag, text", [
    (0x00280030, "abc\\def"),                 # PixelSpacing not numeric
    (0x00200032, "1\\2"),                      # ImagePositionPatient with 2 values
    (0x00200037, "x\\x\\x\\x\\x\\x"),           # ImageOrientationPatient not numeric
    (0x00281053, "nan"),                       # RescaleSlope not finite
    (0x00101030, "heavy"),                     # PatientWeight not a number
])
def test_wrong_values_are_clean_errors(tmp_path, tag, text):
    # Written as raw LO text so pydicom's own validation cannot stop the bad value reaching the reader.
    paths = write_series(tmp_path, np.ones((2, 4, 4), np.int16), header=pet_header())
    ds = pydicom.dcmread(paths[0])
    ds[tag] = pydicom.DataElement(tag, "LO", text)
    ds.save_as(paths[0])
    out = run_cli("suv", tmp_path)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "slice_0000.dcm" in out.stderr


def test_absurd_dimensions_refused_before_allocation(tmp_path):
    paths = write_series(tmp_path, np.ones((1, 4, 4), np.int16), header=pet_header())
    ds = pydicom.dcmread(paths[0])
    ds.Rows = 65535
    ds.Columns = 65535
    ds.NumberOfFrames = 10000
    ds.save_as(paths[0])
    out = run_cli("suv", tmp_path)
    assert out.returncode == 2
    assert "Rows" in out.stderr and "slice_0000.dcm" in out.stderr


def test_empty_directory(tmp_path):
    out = run_cli("inspect", tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip() == f"gliopet: error: {tmp_path}: no DICOM image files found"
    with pytest.raises(GliopetError, match="no DICOM image files"):
        find_series(tmp_path)


def test_directory_of_non_dicom_files(tmp_path):
    (tmp_path / "a.dcm").write_bytes(b"\0" * 300)
    (tmp_path / "b.txt").write_text("hello")
    out = run_cli("suv", tmp_path)
    assert out.returncode == 2
    assert "no DICOM image files found" in out.stderr


@pytest.mark.parametrize("damage", [
    (b"\x28\x00\x10\x00US\x02\x00", b"\x28\x00\x10\x00US\x03\x00"),  # (0028,0010) Rows: 3 bytes for a US
    (b"\x28\x00\x10\x00US", b"\x28\x00\x10\x00TS"),                  # (0028,0010) Rows: an unknown VR 'TS'
])
def test_damaged_summary_attribute_is_a_clean_error(tmp_path, good_series, damage):
    # Found by test_random_byte_damage: values are converted lazily, so the damage surfaced only
    # when the series summary read Rows, as a pydicom exception instead of our error.
    for src in sorted(good_series.iterdir()):
        (tmp_path / src.name).write_bytes(src.read_bytes())
    target = sorted(tmp_path.iterdir())[0]
    raw = target.read_bytes()
    assert raw.count(damage[0]) == 1  # the fixture holds the element as expected (explicit VR little endian)
    target.write_bytes(raw.replace(damage[0], damage[1]))
    _read_everything(tmp_path)
    # the command line: no traceback (exit 1); the damaged file is named and set aside, and the
    # rest of the series (here the other slice) is read
    out = run_cli("suv", tmp_path)
    assert out.returncode == 0 and "Traceback" not in out.stderr
    assert f"{target}: damaged DICOM header" in out.stderr
