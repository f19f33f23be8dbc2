import glob
import os

import numpy as np
import pytest
from PIL import Image

from gluon_sr.utils.color import match_histograms, rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb
from gluon_sr.utils.imresize import imresize
from gluon_sr.evaluation.metrics import psnr_y, ssim_y


@pytest.mark.parametrize("scale", [0.25, 0.5, 2, 3])
def test_imresize_reproduces_ramps_at_matlab_pixel_centres(scale):
    # Keys' cubic (a = -0.5) reproduces linear functions exactly, with or without MATLAB's
    # antialiasing, so away from the borders output pixel x (1-based) must hold the ramp's
    # value at MATLAB's centre mapping u = x / scale + 0.5 * (1 - 1 / scale).
    ramp = np.tile(np.arange(1, 41, dtype=np.float64), (3, 1))
    out = imresize(ramp, output_shape=(3, int(40 * scale)))[1]
    x = np.arange(1, len(out) + 1)
    u = x / scale + 0.5 * (1 - 1 / scale)
    inner = (u > 2 / min(scale, 1) + 1) & (u < 40 - 2 / min(scale, 1))
    assert inner.sum() > 5
    np.testing.assert_allclose(out[inner], u[inner], atol=1e-9)


def test_imresize_keeps_constants_and_uint8():
    img = np.full((12, 10, 3), 77, dtype=np.uint8)
    out = imresize(img, 0.5)
    assert out.dtype == np.uint8 and out.shape == (6, 5, 3) and (out == 77).all()
    assert imresize(img, 3).shape == (36, 30, 3)


def test_psnr_and_ssim_basics():
    rng = np.random.default_rng(0)
    a = rng.uniform(size=(32, 32, 3))
    assert psnr_y(a, a) == float("inf")
    assert ssim_y(a, a) == pytest.approx(1.0)
    b = np.clip(a + 0.01, 0, 1)
    y_diff = rgb_to_y(b) - rgb_to_y(a)
    assert psnr_y(b, a) == pytest.approx(10 * np.log10(255 ** 2 / np.mean(y_diff ** 2)))
    assert ssim_y(b, a) < 1.0
    assert psnr_y(b, a, border=4) != psnr_y(b, a)


def test_ycbcr_round_trip_and_histogram_matching():
    rng = np.random.default_rng(1)
    img = rng.uniform(size=(16, 16, 3))
    np.testing.assert_allclose(ycbcr_to_rgb(rgb_to_ycbcr(img)), img, atol=1e-3)
    ref = rng.uniform(size=(20, 20, 3)) ** 2
    matched = match_histograms(img, ref)
    for c in range(3):   # each channel now has the reference's quantiles
        np.testing.assert_allclose(np.quantile(matched[..., c], [0.1, 0.5, 0.9]),
                                   np.quantile(ref[..., c], [0.1, 0.5, 0.9]), atol=0.03)
    # ranks are kept: matching is monotonic
    assert (np.argsort(matched[..., 0].ravel()) == np.argsort(img[..., 0].ravel())).mean() > 0.99


@pytest.mark.parametrize("scale,published", [(4, 28.42), (2, 33.66)])
def test_bicubic_reproduces_published_set5(sr_bench, scale, published):
    """The proof that the evaluation protocol is right (Set5 bicubic in SRCNN/EDSR tables)."""
    scores = []
    for path in sorted(glob.glob(os.path.join(sr_bench, "Set5", "*.png"))):
        hr = np.asarray(Image.open(path).convert("RGB"))
        hr = hr[:hr.shape[0] - hr.shape[0] % scale, :hr.shape[1] - hr.shape[1] % scale]
        up = imresize(imresize(hr, 1 / scale), scale)
        scores.append(psnr_y(up / 255.0, hr / 255.0, border=scale))
    assert np.mean(scores) == pytest.approx(published, abs=0.05)


def test_lpips_reproduces_the_published_calibration_values():
    """TID2013 pairs with pyiqa's published LPIPS (AlexNet v0.1), to 4 decimals."""
    import os

    import pytest

    from conftest import SHARED
    from gluon_sr.evaluation.lpips import LPIPS
    from gluon_sr.utils.imageio import read_image

    weights = os.path.join(SHARED, "weights", "lpips_alexnet_v0.1.npz")
    folder = os.path.join(SHARED, "data", "iqa_calibration")
    if not os.path.exists(weights) or not os.path.isdir(folder):
        pytest.skip("LPIPS weights or calibration pairs not found (../shared is absent)")
    lpips = LPIPS(weights)
    published = {"I03": 0.7237, "I04": 0.2572, "I06": 0.0508, "I08": 0.0521, "I19": 0.4253}
    for name, value in published.items():
        ref, dist = (read_image(os.path.join(folder, d, name + ".png")).rgb
                     for d in ("ref_dir", "dist_dir"))
        assert round(lpips(ref, dist), 4) == value, name
    assert lpips(ref, ref) == 0.0


def test_niqe_reproduces_the_published_matlab_values():
    """TID2013 images with the MATLAB release's NIQE (pyiqa's calibration table): within 0.02
    on four of five; I19 is known to differ between ports (0.39 here, ~0.4 in others)."""
    from conftest import SHARED
    from gluon_sr.evaluation.niqe import NIQE
    from gluon_sr.utils.imageio import read_image

    params = os.path.join(SHARED, "weights", "niqe_pris_params.npz")
    folder = os.path.join(SHARED, "data", "iqa_calibration", "dist_dir")
    if not os.path.exists(params) or not os.path.isdir(folder):
        pytest.skip("NIQE parameters or calibration images not found (../shared is absent)")
    niqe = NIQE(params)
    published = {"I03": 15.7536, "I04": 3.6549, "I06": 3.2355, "I08": 3.1840, "I19": 8.6352}
    errors = {name: abs(niqe(read_image(os.path.join(folder, name + ".png")).rgb) - value)
              for name, value in published.items()}
    assert sum(e <= 0.02 for e in errors.values()) >= 4, errors
    assert errors["I19"] < 0.5, errors


def test_niqe_scores_noise_and_blur_as_less_natural():
    from conftest import SHARED
    from gluon_sr.evaluation.niqe import NIQE
    from gluon_sr.utils.imageio import read_image

    params = os.path.join(SHARED, "weights", "niqe_pris_params.npz")
    photo = os.path.join(SHARED, "data", "content", "tubingen.jpg")
    if not os.path.exists(params) or not os.path.exists(photo):
        pytest.skip("NIQE parameters or content photos not found (../shared is absent)")
    niqe = NIQE(params)
    clean = read_image(photo).rgb[:288, :384]
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 0.08, clean.shape), 0, 1)
    blurred = imresize(imresize(clean, 0.25), 4)
    assert niqe(clean) < niqe(noisy) and niqe(clean) < niqe(blurred)
    with pytest.raises(Exception, match="at least 96x96"):
        niqe(clean[:50, :50])


def test_periodic_texture_flags_a_dotted_grid_of_the_scale_period():
    from gluon_sr.evaluation.metrics import periodic_texture

    rng = np.random.default_rng(0)
    y, x = np.mgrid[:120, :160]
    photo = np.clip(0.5 + 0.2 * np.sin(x / 9.0) * np.cos(y / 13.0) +
                    0.03 * rng.normal(size=(120, 160)), 0, 1)
    photo = np.repeat(photo[..., None], 3, axis=2)
    dots = ((y % 4 == 1) & (x % 4 == 2)) * 0.08
    gridded = np.clip(photo + dots[..., None], 0, 1)
    assert periodic_texture(photo, 4) < 3
    assert periodic_texture(gridded, 4) > 10
    # A period-3 grid is not what an x4 upsampler lays down.
    assert periodic_texture(np.clip(photo + (((y % 3) == 0) * 0.08)[..., None], 0, 1), 4) < 3
