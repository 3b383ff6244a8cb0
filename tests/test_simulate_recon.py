"""Projector, acquisition model and OSEM, checked against values worked out independently."""

import math

import numpy as np
import pytest
from scipy import optimize

from gliopet.simulate.acquisition import (F18_POSITRON_FRACTION, Scanner, counting_factor,
                                          gaussian_filter_fwhm, reconstruct, simulate_sinograms)
from gliopet.simulate.osem import osem, poisson_log_likelihood
from gliopet.simulate.projector import ProjectorGeometry, system_matrix

GA68_HALF_LIFE_S = 4062.6  # 67.71 min
SMALL = ProjectorGeometry(n_pixels=64, pixel_mm=2.0, n_bins=64, bin_mm=2.0, n_views=42, subsamples=2)


def _disk(geometry, radius_mm, value=1.0):
    n = geometry.n_pixels
    c = (np.arange(n) - (n - 1) / 2) * geometry.pixel_mm
    x, y = np.meshgrid(c, c)
    return np.where(x ** 2 + y ** 2 <= radius_mm ** 2, value, 0.0).astype(np.float32)


def _centred(img, slice_mm=2.0):
    """Axial positions of the slices of ``img`` centred on the scanner's field of view."""
    return (np.arange(img.shape[0]) - (img.shape[0] - 1) / 2) * slice_mm


def _fwhm_mm(profile, spacing_mm):
    """FWHM from a least-squares Gaussian fit to a 1-D profile (independent of the code under test)."""
    x = np.arange(profile.size) * spacing_mm
    p0 = (profile.max(), x[np.argmax(profile)], 3.0)
    (a, mu, sigma), _ = optimize.curve_fit(lambda t, a, m, s: a * np.exp(-(t - m) ** 2 / (2 * s * s)),
                                           x, profile, p0=p0)
    return 2 * math.sqrt(2 * math.log(2)) * abs(sigma)


def test_projector_is_the_adjoint_of_the_backprojector():
    sm = system_matrix(SMALL, n_subsets=21)
    rng = np.random.default_rng(0)
    x = rng.random((3, 64, 64)).astype(np.float32)
    y = rng.random((3, 42, 64)).astype(np.float32)
    lhs = float(np.vdot(sm.forward(x).astype(np.float64), y))
    rhs = float(np.vdot(x.astype(np.float64), sm.back(y)))
    assert lhs == pytest.approx(rhs, rel=1e-5)


def test_subsets_partition_the_views():
    sm = system_matrix(SMALL, n_subsets=21)
    rows = np.sort(np.concatenate(sm.subset_rows))
    assert np.array_equal(rows, np.arange(42 * 64))
    # subset 3 holds views 3 and 24
    assert set(sm.subset_rows[3] // 64) == {3, 24}
    assert (sm.subsets[3] != sm.matrix[sm.subset_rows[3]]).nnz == 0


def test_projection_of_a_disk_is_its_chord_length():
    # A disk of radius R and value 1 projects to 2 sqrt(R^2 - s^2) mm at offset s, in every view.
    g = ProjectorGeometry(n_pixels=128, pixel_mm=1.0, n_bins=128, bin_mm=1.0, n_views=21, subsamples=4)
    sm = system_matrix(g, n_subsets=21)
    r = 40.0
    proj = sm.forward(_disk(g, r)[None])[0]
    s = (np.arange(128) - 63.5) * 1.0
    core = np.abs(s) < r - 4
    expected = 2 * np.sqrt(r ** 2 - s[core] ** 2)
    for view in (0, 5, 10, 17):
        assert proj[view, core] == pytest.approx(expected, rel=0.03, abs=0.3)


def _point_source_counts(frame_s, activity_bq):
    scanner = Scanner(system_fwhm_mm=0.0, scatter_fraction=0.0, randoms_fraction=0.0)
    sm = system_matrix(SMALL, n_subsets=21)
    img = np.zeros((3, 64, 64), np.float32)
    voxel_ml = 2.0 * 2.0 * 2.0 / 1000
    img[1, 32, 30] = activity_bq / voxel_ml
    sino = simulate_sinograms(img, np.zeros_like(img), system=sm, scanner=scanner, slice_z_mm=_centred(img), slice_mm=2.0,
                              frame_s=frame_s, half_life_s=GA68_HALF_LIFE_S, positron_fraction=0.889,
                              positron_range_fwhm_mm=0.0, rng=np.random.default_rng(1), noise=False)
    return float(sino.expected_trues.sum())


def test_point_source_counts_follow_the_nema_sensitivity():
    # NEMA NU 2: 8.1 cps/kBq of a 700 mm F-18 line source, of which 216 mm lie in the field of
    # view; scaled by the 68Ga positron fraction; 1 MBq at frame start, 600 s frame:
    # counts = S * A0 * (1 - exp(-lambda T)) / lambda. The point is at the centre of the field of
    # view, where all 39 ring differences 0, +-2, ..., +-38 reach its plane, against a mean over the
    # 109 planes of (109 + 2 * (0 + 1 + ... + 37) + 33 * 38) / 109 = 2769 / 109 ring pairs.
    lam = math.log(2) / GA68_HALF_LIFE_S
    s_cps_per_bq = 8.1e-3 * 700 / 216 * 0.889 / F18_POSITRON_FRACTION * 39 / (2769 / 109)
    expected = s_cps_per_bq * 1e6 * (1 - math.exp(-lam * 600)) / lam
    assert _point_source_counts(600.0, 1e6) == pytest.approx(expected, rel=1e-5)


def test_axial_sensitivity_is_the_ring_pair_trapezoid():
    # Biograph 6 TrueV model: 55 rings, ring differences up to 38, planes 2 mm apart (z = 0 at the
    # centre plane 54). Ring pairs per plane p: min(p, 108 - p, 38) + 1, mean 2769 / 109.
    scanner = Scanner()
    mean_pairs = 2769 / 109
    z = np.array([0.0, 32.0, 34.0, 60.0, 107.0, 108.0, -108.0, 109.0, -1.0])
    # plane 54 + z / 2: 39 pairs on the plateau (|z| <= 32 mm), 38 at plane 71 (z = 34), 25 at
    # plane 84 (z = 60), 1.5 half way between planes 107 (2) and 108 (1), 1 at the end planes, none
    # outside; z = -1 mm lies half way between planes 53 and 54, both on the plateau.
    pairs = np.array([39, 39, 38, 25, 1.5, 1, 1, 0, 39])
    assert scanner.axial_sensitivity(z) == pytest.approx(pairs / mean_pairs, rel=1e-12)
    planes = (np.arange(109) - 54) * 2.0
    assert float(scanner.axial_sensitivity(planes).mean()) == pytest.approx(1.0, rel=1e-12)
    # a uniform line source through the whole field of view is counted at the NEMA sensitivity
    sm = system_matrix(SMALL, n_subsets=21)
    img = np.zeros((109, 64, 64), np.float32)
    img[:, 32, 30] = 1e6 / 109 / 0.008
    flat = Scanner(system_fwhm_mm=0.0, scatter_fraction=0.0, randoms_fraction=0.0)
    sino = simulate_sinograms(img, np.zeros_like(img), system=sm, scanner=flat, slice_z_mm=planes, slice_mm=2.0,
                              frame_s=600.0, half_life_s=GA68_HALF_LIFE_S, positron_fraction=0.889,
                              positron_range_fwhm_mm=0.0, noise=False)
    lam = math.log(2) / GA68_HALF_LIFE_S
    expected = 8.1e-3 * 700 / 216 * 0.889 / F18_POSITRON_FRACTION * 1e6 * (1 - math.exp(-lam * 600)) / lam
    assert float(sino.expected_trues.sum()) == pytest.approx(expected, rel=1e-5)
    # the per-slice factor is the multiplicative term of the forward model
    assert sino.axial_sensitivity[54] / sino.axial_sensitivity[0] == pytest.approx(39.0, rel=1e-12)


def test_counts_scale_with_dose_and_frame_time():
    lam = math.log(2) / GA68_HALF_LIFE_S
    base = _point_source_counts(600.0, 1e6)
    assert _point_source_counts(600.0, 2e6) == pytest.approx(2 * base, rel=1e-6)
    # a 20-minute frame counts (1 - e^{-1200 lambda}) / (1 - e^{-600 lambda}) times more, not 2x
    ratio = (1 - math.exp(-lam * 1200)) / (1 - math.exp(-lam * 600))
    assert _point_source_counts(1200.0, 1e6) / base == pytest.approx(ratio, rel=1e-6)


def test_prompts_are_poisson_around_their_mean():
    sm = system_matrix(SMALL, n_subsets=21)
    img = np.repeat(_disk(SMALL, 40.0, 20000.0)[None], 4, axis=0)
    mu = np.repeat(_disk(SMALL, 40.0, 0.096)[None], 4, axis=0)
    sino = simulate_sinograms(img, mu, system=sm, scanner=Scanner(), slice_z_mm=_centred(img), slice_mm=2.0,
                              frame_s=600.0,
                              half_life_s=GA68_HALF_LIFE_S, positron_fraction=0.889,
                              positron_range_fwhm_mm=2.0, rng=np.random.default_rng(5))
    mean = sino.expected_trues + sino.additive
    busy = mean > 50
    # mean of (y - ybar) / sqrt(ybar) is 0 and its variance 1 for Poisson data
    z = (sino.prompts[busy] - mean[busy]) / np.sqrt(mean[busy])
    assert abs(float(z.mean())) < 0.02
    assert float(z.var()) == pytest.approx(1.0, abs=0.03)
    # scatter fraction: scatter / (trues + scatter) = 0.32 by construction of the model
    rf, sf = 0.15, 0.32
    trues = float(sino.expected_trues.sum())
    randoms = float(mean.sum()) * rf
    scatter = float(mean.sum()) - trues - randoms
    assert scatter / (trues + scatter) == pytest.approx(sf, rel=1e-4)


def _noise_free_disk_data(n_slices=3, value=10000.0):
    sm = system_matrix(SMALL, n_subsets=21)
    img = np.repeat(_disk(SMALL, 40.0, value)[None], n_slices, axis=0)
    mu = np.repeat(_disk(SMALL, 40.0, 0.096)[None], n_slices, axis=0)
    scanner = Scanner(system_fwhm_mm=0.0, scatter_fraction=0.0, randoms_fraction=0.0)
    return img, mu, simulate_sinograms(img, mu, system=sm, scanner=scanner, slice_z_mm=_centred(img), slice_mm=2.0,
                                       frame_s=600.0, half_life_s=GA68_HALF_LIFE_S, positron_fraction=0.889,
                                       positron_range_fwhm_mm=0.0, rng=np.random.default_rng(2))


def test_mlem_conserves_counts_without_background():
    # Without background, after every MLEM update sum(m A x) == sum(y) (Shepp & Vardi 1982).
    sm1 = system_matrix(SMALL, n_subsets=1)
    _, _, sino = _noise_free_disk_data()
    prompts = np.random.default_rng(3).poisson(sino.expected_trues).astype(np.float32)
    for n_it in (1, 3):
        x = osem(prompts, system=sm1, multiplicative=sino.multiplicative, n_iterations=n_it).image
        expected = sino.multiplicative * sm1.forward(x)
        assert float(expected.sum()) == pytest.approx(float(prompts.sum()), rel=1e-4)


def test_log_likelihood_rises_with_iterations():
    sm1 = system_matrix(SMALL, n_subsets=1)
    sm21 = system_matrix(SMALL, n_subsets=21)
    img, mu, sino = _noise_free_disk_data()
    prompts = np.random.default_rng(4).poisson(sino.expected_trues + 5.0).astype(np.float32)
    additive = np.full_like(prompts, 5.0)
    ll = osem(prompts, system=sm1, multiplicative=sino.multiplicative, additive=additive,
              n_iterations=6, track_likelihood=True).log_likelihood
    assert all(b > a for a, b in zip(ll, ll[1:]))
    ll21 = osem(prompts, system=sm21, multiplicative=sino.multiplicative, additive=additive,
                n_iterations=2, track_likelihood=True).log_likelihood
    assert ll21[1] > ll21[0] > ll[0]
    truth = poisson_log_likelihood(prompts, sino.multiplicative * sm1.forward(img) + additive)
    assert ll21[1] > truth - abs(truth) * 1e-3  # near the maximum: as good as the truth


def test_osem_recovers_a_uniform_disk_in_bq_per_ml():
    # 2 iterations x 21 subsets with attenuation, scatter and randoms, Poisson noise: the mean
    # activity in the disk's core equals the true 10 kBq/mL within 3 % (the criterion).
    sm = system_matrix(SMALL, n_subsets=21)
    n = 16  # enough slices that the axial blur and filter do not reach the central ones
    img = np.repeat(_disk(SMALL, 40.0, 10000.0)[None], n, axis=0)
    mu = np.repeat(_disk(SMALL, 40.0, 0.096)[None], n, axis=0)
    sino = simulate_sinograms(img, mu, system=sm, scanner=Scanner(), slice_z_mm=_centred(img), slice_mm=2.0,
                              frame_s=600.0,
                              half_life_s=GA68_HALF_LIFE_S, positron_fraction=0.889,
                              positron_range_fwhm_mm=2.0, rng=np.random.default_rng(6))
    rec = reconstruct(sino, system=sm, slice_mm=2.0, n_iterations=2, post_filter_fwhm_mm=5.0)
    core = _disk(SMALL, 25.0) > 0
    assert float(rec[6:10][:, core].mean()) == pytest.approx(10000.0, rel=0.03)
    # without attenuation correction it would be far lower: the AC matters
    no_ac = osem(sino.prompts, system=sm, multiplicative=np.broadcast_to(sino.kappa * sino.axial_sensitivity[:, None, None],
                                                            sino.prompts.shape).astype(np.float32),
                 additive=sino.additive, n_iterations=2).image
    assert float(no_ac[6:10][:, core].mean()) < 0.6 * 10000.0


def test_post_filter_fwhm_is_5_mm():
    img = np.zeros((31, 31, 31), np.float32)
    img[15, 15, 15] = 1.0
    out = gaussian_filter_fwhm(img, fwhm_mm=5.0, spacing_mm=(2.0, 2.0, 2.0))
    assert float(out.sum()) == pytest.approx(1.0, rel=1e-6)
    for profile in (out[15, 15, :], out[15, :, 15], out[:, 15, 15]):
        assert _fwhm_mm(profile, 2.0) == pytest.approx(5.0, rel=0.02)


def test_reconstructed_line_source_has_the_expected_resolution():
    # A line source (one pixel in every slice), scanner resolution 6 mm FWHM, noise-free data,
    # OSEM to convergence without resolution modelling recovers the 6 mm blur; the 5 mm post-filter
    # then gives sqrt(6^2 + 5^2) = 7.81 mm (Gaussians add in quadrature).
    sm = system_matrix(SMALL, n_subsets=21)
    img = np.zeros((9, 64, 64), np.float32)
    img[:, 32, 28] = 1e6
    scanner = Scanner(system_fwhm_mm=6.0, scatter_fraction=0.0, randoms_fraction=0.0)
    sino = simulate_sinograms(img, np.zeros_like(img), system=sm, scanner=scanner, slice_z_mm=_centred(img), slice_mm=2.0,
                              frame_s=600.0, half_life_s=GA68_HALF_LIFE_S, positron_fraction=0.889,
                              positron_range_fwhm_mm=0.0, rng=np.random.default_rng(0), noise=False)
    x = osem(sino.prompts, system=sm, multiplicative=sino.multiplicative, n_iterations=10).image
    assert _fwhm_mm(x[4, 32, :], 2.0) == pytest.approx(6.0, rel=0.10)
    assert _fwhm_mm(x[4, :, 28], 2.0) == pytest.approx(6.0, rel=0.10)
    filtered = gaussian_filter_fwhm(x, fwhm_mm=5.0, spacing_mm=(2.0, 2.0, 2.0))
    assert _fwhm_mm(filtered[4, 32, :], 2.0) == pytest.approx(math.hypot(6.0, 5.0), rel=0.10)


def test_counting_factor_units():
    # kappa * (n_views * p^2 / w) / V == S * (1 - e^{-lambda T}) / lambda  (counts per Bq)
    scanner = Scanner()
    kappa = counting_factor(scanner=scanner, pixel_mm=2.0, slice_mm=2.0, bin_mm=2.0, n_views=126,
                            frame_s=600.0, half_life_s=GA68_HALF_LIFE_S, positron_fraction=0.889)
    lam = math.log(2) / GA68_HALF_LIFE_S
    per_bq = 8.1e-3 * 700 / 216 * 0.889 / 0.9673 * (1 - math.exp(-lam * 600)) / lam
    assert kappa * 126 * 4.0 / 2.0 / 0.008 == pytest.approx(per_bq, rel=1e-12)


def test_poisson_by_cdf_inversion():
    from gliopet.simulate.acquisition import poisson_from_uniforms

    rng = np.random.default_rng(11)
    for mean in (0.3, 4.0, 60.0, 900.0):  # the last uses the normal approximation
        draws = poisson_from_uniforms(rng.random(200_000), np.full(200_000, mean))
        assert float(draws.mean()) == pytest.approx(mean, rel=0.01, abs=0.005)
        assert float(draws.var()) == pytest.approx(mean, rel=0.03)
        assert np.array_equal(draws, np.round(draws))
    # P(0) = exp(-mean): the fraction of zeros for mean 1 is e^-1 = 0.3679
    zeros = poisson_from_uniforms(rng.random(400_000), np.ones(400_000))
    assert float((zeros == 0).mean()) == pytest.approx(math.exp(-1), abs=0.003)
    # common random numbers: the same uniforms give nearly the same draws for nearby means
    u = rng.random(100_000)
    a, b = poisson_from_uniforms(u, np.full(u.size, 10.0)), poisson_from_uniforms(u, np.full(u.size, 10.5))
    assert float(np.corrcoef(a, b)[0, 1]) > 0.95


def _sphere_rc(radius_mm, sigma_mm):
    """Centre value of a unit sphere blurred by an isotropic 3-D Gaussian (analytic)."""
    t = radius_mm / sigma_mm
    return math.erf(t / math.sqrt(2)) - math.sqrt(2 / math.pi) * t * math.exp(-t * t / 2)


def test_hot_sphere_recovery_falls_as_the_resolution_predicts():
    # NEMA NU 2 image-quality style: spheres of 10 to 37 mm at 4:1 over a warm background, scanner
    # resolution 6 mm FWHM, noise-free data reconstructed to convergence without resolution modelling.
    # The centre of a sphere of radius R blurred by a Gaussian of sigma s recovers
    # RC = erf(R / (s sqrt 2)) - sqrt(2 / pi) (R / s) exp(-R^2 / 2 s^2) of its contrast.
    g = SMALL
    n, k = g.n_pixels, 32
    c = (np.arange(n) - (n - 1) / 2) * g.pixel_mm
    z = (np.arange(k) - (k - 1) / 2) * 2.0
    zz, yy, xx = np.meshgrid(z, c, c, indexing="ij")
    background, hot = 1000.0, 4000.0
    img = np.where(xx ** 2 + yy ** 2 <= 58.0 ** 2, background, 0.0)
    diameters = (10.0, 13.0, 17.0, 22.0, 28.0, 37.0)
    angles = np.deg2rad([0, 60, 120, 180, 240, 300])
    centres = [(round(35 * np.cos(a) / 2 - 0.5) * 2 + 1.0, round(35 * np.sin(a) / 2 - 0.5) * 2 + 1.0, 1.0)
               for a in angles]  # on voxel centres (odd multiples of 1 mm)
    sub = (np.arange(4) + 0.5) / 4 - 0.5
    for d, (cx, cy, cz) in zip(diameters, centres):
        frac = np.zeros_like(img)
        for ox in sub:
            for oy in sub:
                for oz in sub:
                    frac += ((xx + 2 * ox - cx) ** 2 + (yy + 2 * oy - cy) ** 2 + (zz + 2 * oz - cz) ** 2
                             <= (d / 2) ** 2)
        img = img + frac / 64 * (hot - background)
    sm = system_matrix(g, n_subsets=21)
    scanner = Scanner(system_fwhm_mm=6.0, scatter_fraction=0.0, randoms_fraction=0.0)
    sino = simulate_sinograms(img.astype(np.float32), np.zeros_like(img, np.float32), system=sm,
                              scanner=scanner, slice_z_mm=_centred(img), slice_mm=2.0, frame_s=600.0,
                              half_life_s=GA68_HALF_LIFE_S,
                              positron_fraction=0.889, positron_range_fwhm_mm=0.0, noise=False)
    rec = osem(sino.prompts, system=sm, multiplicative=sino.multiplicative, n_iterations=15).image
    sigma = 6.0 / (2 * math.sqrt(2 * math.log(2)))
    measured = []
    for d, (cx, cy, cz) in zip(diameters, centres):
        i, j, kk = (np.array([cx, cy, cz]) - [c[0], c[0], z[0]]) / 2.0
        value = float(rec[int(round(kk)), int(round(j)), int(round(i))])
        rc = (value - background) / (hot - background)
        measured.append(rc)
        assert rc == pytest.approx(_sphere_rc(d / 2, sigma), abs=0.03), d
    # recovery rises with size: 10 mm 0.72, 13 mm 0.91, 17 mm 0.99 analytically, then flat at 1
    assert measured[0] < measured[1] < measured[2] < 1.0 + 0.01
    assert min(measured[3:]) > 0.99
