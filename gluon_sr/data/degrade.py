"""The degradation that turns a high-resolution crop into a low-resolution network input.

Seed 002's recipe: random HR crop -> Gaussian blur -> bicubic downsample by the scale factor.
With blur sigma 0 and MATLAB bicubic this is the standard "BI" degradation of SR benchmarks.
Optionally the LR is then saved and decoded as a JPEG (illustrations reach users as JPEGs;
waifu2x trains one model per band of JPEG quality).
"""
import io

import numpy as np
from PIL import Image

from gluon_sr.utils.imresize import imresize

RESIZERS = ("matlab", "pil")


def gaussian_kernel1d(sigma):
    radius = max(1, int(np.ceil(3 * sigma)))
    ax = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-(ax ** 2) / (2 * sigma ** 2))
    return k / k.sum()


def gaussian_blur(img, sigma):
    """Separable Gaussian blur of an HxWxC float array with reflected borders."""
    if sigma <= 0:
        return img
    k = gaussian_kernel1d(sigma)
    r = len(k) // 2
    out = np.asarray(img, dtype=np.float64)
    for axis in (0, 1):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (r, r)
        padded = np.pad(out, pad, mode="reflect")
        n = out.shape[axis]
        out = sum(k[i] * np.take(padded, np.arange(i, i + n), axis=axis) for i in range(len(k)))
    return out


def downscale(hr, scale, sigma=0.0, resize="matlab"):
    """HR (HxWx3 uint8, sides divisible by scale) -> LR uint8 via blur + bicubic."""
    h, w = hr.shape[:2]
    if h % scale or w % scale:
        raise ValueError(f"HR size {w}x{h} is not divisible by scale {scale}")
    img = gaussian_blur(hr.astype(np.float64), sigma)
    if resize == "matlab":
        lr = imresize(img, output_shape=(h // scale, w // scale))
    elif resize == "pil":
        lr = np.stack([np.asarray(Image.fromarray(img[..., c].astype(np.float32), mode="F")
                                  .resize((w // scale, h // scale), Image.BICUBIC))
                       for c in range(img.shape[2])], axis=-1)
    else:
        raise ValueError(f"unknown resize {resize!r}; expected one of {RESIZERS}")
    return np.clip(np.round(lr), 0, 255).astype(np.uint8)


def jpeg_roundtrip(img, quality):
    """An HxWx3 uint8 image as it comes back from a JPEG file of `quality` (4:2:0 chroma, as
    most encoders write)."""
    buffer = io.BytesIO()
    Image.fromarray(img).save(buffer, format="JPEG", quality=int(quality), subsampling=2)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"))


def shrink(img, factor):
    """An HxWx3 uint8 image resized by `factor` <= 1 (antialiased MATLAB bicubic)."""
    if factor == 1:
        return img
    out = imresize(img.astype(np.float64), factor)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def mod_crop(img, scale):
    """Crop the bottom/right so that both sides divide by `scale` (the benchmark convention)."""
    h, w = img.shape[:2]
    return img[:h - h % scale, :w - w % scale]


def random_crops(img, size, count, rng):
    """`count` random size x size crops of an HxWxC array (positions drawn from `rng`)."""
    h, w = img.shape[:2]
    ys = rng.integers(0, h - size + 1, size=count)
    xs = rng.integers(0, w - size + 1, size=count)
    return [img[y:y + size, x:x + size] for y, x in zip(ys, xs)]
