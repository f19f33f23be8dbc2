"""NIQE (Mittal, Soundararajan & Bovik 2013), a no-reference naturalness score; lower is better.

A port of the MATLAB release (computequality.m): the grey image is normalised by local mean
and contrast (MSCN, 7x7 Gaussian), each 96x96 block described by 18 generalized-Gaussian
parameters at full and at half resolution (MATLAB bicubic `imresize`, antialiased), and the
score is the Mahalanobis-like distance between the image's multivariate Gaussian fit and the
pristine-image model `niqe_pris_params.npz` (from MATLAB's release, as shipped in the PyPI sdist
`basicsr` 1.4.2; path from --niqe-params or $GLUON_SR_NIQE).
"""
import math
import os

import numpy as np
from scipy.ndimage import convolve
from scipy.special import gamma

from gluon_sr.utils.errors import GluonSRError
from gluon_sr.utils.imresize import imresize

ENV_PARAMS = "GLUON_SR_NIQE"
BLOCK = 96
_GAM = np.arange(0.2, 10.001, 0.001)
_R_GAM = gamma(2 / _GAM) ** 2 / (gamma(1 / _GAM) * gamma(3 / _GAM))


def load_pristine_model(path=None):
    path = path or os.environ.get(ENV_PARAMS)
    if not path:
        raise GluonSRError(f"NIQE needs its pristine model: pass --niqe-params or set "
                           f"{ENV_PARAMS} (niqe_pris_params.npz)")
    try:
        with np.load(path) as f:
            return {k: f[k].astype(np.float64) for k in ("mu_pris_param", "cov_pris_param",
                                                          "gaussian_window")}
    except (OSError, KeyError, ValueError) as e:
        raise GluonSRError(f"{path}: not a NIQE parameter file ({e})")


def aggd_parameters(x):
    """Asymmetric generalized Gaussian fit by moment matching: (alpha, beta_left, beta_right)."""
    x = x.ravel()
    left = np.sqrt(np.mean(x[x < 0] ** 2))
    right = np.sqrt(np.mean(x[x > 0] ** 2))
    gamma_hat = left / right
    r_hat = np.mean(np.abs(x)) ** 2 / np.mean(x ** 2)
    r_norm = r_hat * (gamma_hat ** 3 + 1) * (gamma_hat + 1) / (gamma_hat ** 2 + 1) ** 2
    alpha = _GAM[np.argmin((_R_GAM - r_norm) ** 2)]
    ratio = np.sqrt(gamma(1 / alpha) / gamma(3 / alpha))
    return alpha, left * ratio, right * ratio


def block_features(block):
    """The 18 NIQE features of one MSCN block: the AGGD fit of the block and of its products
    with four neighbours (horizontal, vertical, two diagonals)."""
    alpha, beta_l, beta_r = aggd_parameters(block)
    features = [alpha, (beta_l + beta_r) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):
        alpha, beta_l, beta_r = aggd_parameters(block * np.roll(block, shift, axis=(0, 1)))
        mean = (beta_r - beta_l) * gamma(2 / alpha) / gamma(1 / alpha)
        features += [alpha, mean, beta_l, beta_r]
    return features


def niqe_grey(grey, model):
    """NIQE of a grey image in 0..255 (float). Needs at least one 96x96 block."""
    h, w = grey.shape
    rows, cols = h // BLOCK, w // BLOCK
    if rows == 0 or cols == 0:
        raise GluonSRError(f"NIQE needs an image of at least {BLOCK}x{BLOCK} pixels, got {w}x{h}")
    img = grey[:rows * BLOCK, :cols * BLOCK].astype(np.float64)
    window = model["gaussian_window"]
    per_scale = []
    for scale in (1, 2):
        mu = convolve(img, window, mode="nearest")
        sigma = np.sqrt(np.abs(convolve(img * img, window, mode="nearest") - mu * mu))
        mscn = (img - mu) / (sigma + 1)
        size = BLOCK // scale
        per_scale.append([block_features(mscn[r * size:(r + 1) * size, c * size:(c + 1) * size])
                          for c in range(cols) for r in range(rows)])
        if scale == 1:
            img = imresize(img / 255.0, 0.5) * 255.0
    features = np.concatenate([np.array(f) for f in per_scale], axis=1)
    mu_image = np.nanmean(features, axis=0)
    cov_image = np.cov(features[~np.isnan(features).any(axis=1)], rowvar=False)
    diff = model["mu_pris_param"].ravel() - mu_image
    inverse = np.linalg.pinv((model["cov_pris_param"] + cov_image) / 2)
    return float(math.sqrt(max(diff @ inverse @ diff, 0.0)))


def rgb_to_grey_uint8(rgb):
    """MATLAB's rgb2gray on a uint8 image (BT.601 luma weights, rounded to uint8); floats in
    0..1 are taken to uint8 first."""
    rgb = np.asarray(rgb)
    rgb = rgb.astype(np.float64) if rgb.dtype == np.uint8 else np.round(rgb * 255.0)
    grey = rgb[..., 0] * 0.298936021293775 + rgb[..., 1] * 0.587043074451121 + \
        rgb[..., 2] * 0.114020904255103
    return np.round(np.clip(grey, 0, 255))


class NIQE:
    """NIQE of RGB images (HxWx3, uint8 or floats in 0..1), `crop` pixels off each border
    first (the SR protocol crops `scale`)."""

    def __init__(self, params=None):
        self.model = load_pristine_model(params)

    def __call__(self, rgb, crop=0):
        grey = rgb_to_grey_uint8(rgb)
        if crop:
            grey = grey[crop:-crop, crop:-crop]
        return niqe_grey(grey, self.model)
