"""Colour-space helpers: BT.601 luma (the SR literature's Y channel) and histogram matching."""
import numpy as np


def rgb_to_y(img):
    """BT.601 'studio swing' Y in 16..235 for RGB floats in 0..1 (as MATLAB rgb2ycbcr)."""
    img = np.asarray(img, dtype=np.float64)
    return 16.0 + img[..., 0] * 65.481 + img[..., 1] * 128.553 + img[..., 2] * 24.966


def rgb_to_ycbcr(img):
    """Full-range YCbCr (JPEG/BT.601) for RGB floats in 0..1; returns floats in 0..1."""
    img = np.asarray(img, dtype=np.float64)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 0.5 + (b - y) * 0.564
    cr = 0.5 + (r - y) * 0.713
    return np.stack([y, cb, cr], axis=-1)


def ycbcr_to_rgb(img):
    """Inverse of rgb_to_ycbcr."""
    y, cb, cr = img[..., 0], img[..., 1] - 0.5, img[..., 2] - 0.5
    r = y + cr / 0.713
    b = y + cb / 0.564
    g = (y - 0.299 * r - 0.114 * b) / 0.587
    return np.stack([r, g, b], axis=-1)


def match_histograms(source, reference):
    """Map each channel of `source` so that its value distribution matches `reference`'s.

    The post-process of seed 002 (after rio-hist): the network's colours drift, so the output's
    per-channel histogram is matched to the bicubic upscale of the input. Works on floats.
    """
    source = np.asarray(source, dtype=np.float32)
    reference = np.asarray(reference, dtype=np.float32)
    out = np.empty_like(source)
    for c in range(source.shape[-1]):
        src = source[..., c].ravel()
        ref = reference[..., c].ravel()
        src_values, src_index, src_counts = np.unique(src, return_inverse=True, return_counts=True)
        ref_values, ref_counts = np.unique(ref, return_counts=True)
        src_quantiles = np.cumsum(src_counts) / src.size
        ref_quantiles = np.cumsum(ref_counts) / ref.size
        mapped = np.interp(src_quantiles, ref_quantiles, ref_values)
        out[..., c] = mapped[src_index].reshape(source.shape[:-1])
    return out
