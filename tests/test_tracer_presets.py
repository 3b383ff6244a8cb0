"""Tracer presets (``gliopet measure --tracer``): data with a source per value, applied and overridable.

The image: 40^3 voxels of 2 mm (0.008 mL), SUV 1.0 everywhere, a 5x5x5
lesion cube of SUV 2.0 centred at ijk (10, 20, 20) with its inner 3x3x3 at
4.0. The background circle at LPS (60, 40, 40) lies in the flat 1.0, so its
mean is 1.0 and the BTV threshold is the factor itself: a factor of 1.3 or
1.6 keeps the whole cube (125 voxels = 1.0 mL), 3.0 keeps the core (27 voxels
= 0.216 mL).
"""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from gliopet.cli import main
from gliopet.errors import InputError
from gliopet.io.nifti import write_nifti
from gliopet.study import load_tracer_preset, measure_study_files, tracer_preset_names
from gliopet.volume import Volume

VOXEL_ML = 0.2 ** 3


@pytest.fixture(scope="module")
def cube_pet(tmp_path_factory):
    array = np.ones((40, 40, 40), dtype=np.float32)
    array[18:23, 18:23, 8:13] = 2.0
    array[19:22, 19:22, 9:12] = 4.0
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    path = tmp_path_factory.mktemp("preset") / "pet.nii.gz"
    write_nifti(Volume(array, affine), path)
    assert np.count_nonzero(array >= 1.6) == 125 and np.count_nonzero(array >= 3.0) == 27
    return path


def test_every_preset_names_a_source_for_each_value():
    assert set(tracer_preset_names()) >= {"fet", "fdopa", "met", "pentixafor"}
    for name in tracer_preset_names():
        preset = load_tracer_preset(name)
        for key in ("static_window_min", "background", "btv_factor", *preset.dynamic.keys()):
            source = preset.sources[key]
            assert source["ref"] and isinstance(source["verified"], bool), (name, key)


@pytest.mark.parametrize("name, window, background, factor", [
    ("fet", (20.0, 40.0), "crescent", 1.6),    # Law et al. 2019; Pauleit et al. 2005
    ("met", (10.0, 30.0), "crescent", 1.3),    # Kracht et al. 2004
    ("fdopa", (10.0, 30.0), "crescent", 1.6),  # by analogy with FET (marked unverified)
    ("pentixafor", (60.0, 70.0), "auto", 1.6),  # the founding study (DESIGN.md)
])
def test_preset_values(name, window, background, factor):
    preset = load_tracer_preset(name.upper())
    assert (preset.static_window_min, preset.background, preset.btv_factor) == (window, background, factor)


def test_fet_dynamic_section():
    dynamic = load_tracer_preset("fet").dynamic
    assert dynamic["tac_isocontour"] == 0.9 and dynamic["slope_window_min"] == [20, 40]


def test_unknown_tracer_lists_the_presets():
    with pytest.raises(InputError, match="fdg.*fdopa, fet, met, pentixafor"):
        load_tracer_preset("fdg")


def test_overrides_replace_only_given_values():
    preset = load_tracer_preset("fet").with_overrides(btv_factor=2.0, background=None,
                                                      dynamic={"tac_isocontour": 0.8, "slope_window_min": None})
    assert preset.btv_factor == 2.0 and preset.background == "crescent"
    assert preset.dynamic["tac_isocontour"] == 0.8 and preset.dynamic["slope_window_min"] == [20, 40]


def test_preset_btv_factor_is_applied_and_recorded(cube_pet):
    record = measure_study_files(cube_pet, lesion="20,40,40", background="60,40,40", tracer="met").to_dict()
    assert record["bg_suvmean"] == pytest.approx(1.0)
    assert record["btv"]["threshold"] == pytest.approx(1.3 * 1.0)
    assert record["btv_ml"] == pytest.approx(125 * VOXEL_ML)
    tracer = record["inputs"]["tracer"]
    assert tracer["name"] == "met" and tracer["btv_factor"] == 1.3
    assert tracer["overridden"] == ["background"] and tracer["background"] == "60,40,40"
    assert record["inputs"]["btv_factor"] == 1.3


def test_command_line_overrides_the_preset(cube_pet):
    result = CliRunner().invoke(main, ["measure", str(cube_pet), "--lesion", "20,40,40", "--background",
                                       "60,40,40", "--tracer", "fet", "--btv-factor", "3", "--tac-isocontour",
                                       "0.8", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["btv_ml"] == pytest.approx(27 * VOXEL_ML)
    assert record["btv"]["threshold"] == pytest.approx(3.0)
    assert record["btv"]["separates"] is True  # judged again at the overriding factor
    tracer = record["inputs"]["tracer"]
    assert tracer["overridden"] == ["background", "btv_factor", "dynamic.tac_isocontour"]
    assert tracer["btv_factor"] == 3.0 and tracer["dynamic"]["tac_isocontour"] == 0.8
    assert tracer["static_window_min"] == [20.0, 40.0]


def test_without_tracer_the_default_btv_is_unchanged(cube_pet):
    record = measure_study_files(cube_pet, lesion="20,40,40", background="60,40,40").to_dict()
    assert record["btv"]["threshold"] == pytest.approx(1.6) and "tracer" not in record["inputs"]
    assert record["btv_ml"] == pytest.approx(125 * VOXEL_ML)
