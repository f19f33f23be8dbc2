"""Reading and writing user images: EXIF orientation, alpha, grayscale, palette and 16-bit PNG.

Everything inside gluon-sr works on HxWx3 float32 RGB in 0..1; this module is the only place
that knows about file formats. Every failure is a GluonSRError naming the file.
"""
import os
import stat
import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from gluon_sr.utils.errors import GluonSRError, ImageTooLarge
from gluon_sr.utils.fileio import atomic_path

# We check sizes ourselves (with a clear message) instead of PIL's DecompressionBombError.
Image.MAX_IMAGE_PIXELS = None
MAX_INPUT_PIXELS = 200_000_000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


@dataclass
class LoadedImage:
    rgb: np.ndarray                  # HxWx3 float32 in 0..1
    alpha: Optional[np.ndarray]      # HxW float32 in 0..1, or None
    bit_depth: int                   # 8 or 16: what to write back
    gray: bool                       # the source had one colour channel
    jpeg_quality: Optional[int] = None   # estimated from a JPEG's quantisation tables

    @property
    def size(self):
        return self.rgb.shape[1], self.rgb.shape[0]


def _open_pil(path, max_pixels=MAX_INPUT_PIXELS, check_size=None):
    """Open `path` reading only its header; refuse it by its size before any decoding."""
    # gluoncv.data sets this Pillow-wide flag when imported (the training schedule imports
    # gluoncv), after which truncated files and oversized text chunks pass silently.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        if os.path.exists(path) and not os.path.isdir(path) and \
                not stat.S_ISREG(os.stat(path).st_mode):
            raise GluonSRError(f"{path}: not a regular file")    # a FIFO would block reading
        im = Image.open(path)
    except FileNotFoundError:
        raise GluonSRError(f"{path}: no such file")
    except IsADirectoryError:
        raise GluonSRError(f"{path}: is a directory, not an image")
    except PermissionError:
        raise GluonSRError(f"{path}: permission denied")
    except UnidentifiedImageError:
        if os.path.getsize(path) == 0:
            raise GluonSRError(f"{path}: empty file (0 bytes)")
        raise GluonSRError(f"{path}: not an image file (or a format Pillow cannot read)")
    except OSError as e:
        raise GluonSRError(f"{path}: cannot open ({e})")
    except GluonSRError:
        raise
    except Exception as e:  # Pillow's plug-ins raise ValueError etc. on malformed headers
        raise GluonSRError(f"{path}: cannot decode image ({type(e).__name__}: {e})")
    w, h = im.size
    if w * h > max_pixels:
        raise ImageTooLarge(f"{path}: {w}x{h} is too large ({w * h / 1e6:.0f} MP; "
                            f"limit {max_pixels / 1e6:.0f} MP, --max-pixels to change)")
    if check_size is not None:
        try:
            check_size(w, h)
        except GluonSRError as e:
            raise ImageTooLarge(f"{path}: {e}")
    return im


# The IJG (libjpeg) luminance quantisation table at quality 50, in natural order; encoders
# that follow libjpeg scale it by quality.
IJG_LUMINANCE = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=np.float64)


def ijg_table(quality):
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((IJG_LUMINANCE * scale + 50) / 100), 1, 255)


def estimate_jpeg_quality(quantization):
    """The IJG quality (1-100) whose luminance table is nearest to a JPEG's (Pillow's
    `im.quantization`), or None when there is no table. Encoders with other tables get the
    quality of equal overall coarseness."""
    if not quantization or 0 not in quantization or len(quantization[0]) != 64:
        return None
    table = np.asarray(quantization[0], dtype=np.float64)
    errors = [np.abs(ijg_table(q) - table).sum() for q in range(1, 101)]
    return int(np.argmin(errors)) + 1


def _read_16bit_png(path):
    """16-bit PNG pixels via OpenCV (Pillow reduces 16-bit RGB to 8 bits)."""
    import cv2

    data = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if data is None or data.dtype != np.uint16:
        return None
    if data.ndim == 3:
        data = cv2.cvtColor(data, cv2.COLOR_BGRA2RGBA if data.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return data.astype(np.float32) / 65535.0


def _png_is_16bit(path, file_format):
    """PNG bit depth from the IHDR chunk (byte 24); Pillow's mode hides it for RGB."""
    if file_format != "PNG":
        return False
    with open(path, "rb") as f:
        header = f.read(25)
    return len(header) == 25 and header[24] == 16


def read_image(path, max_pixels=MAX_INPUT_PIXELS, check_size=None):
    """Load an image file as a LoadedImage (see module docstring for what is supported).

    Images over `max_pixels` are refused from their header, before decoding; `check_size(w, h)`
    may refuse others the same way (raising GluonSRError).
    """
    im = _open_pil(path, max_pixels, check_size)
    file_format = im.format
    quality = estimate_jpeg_quality(getattr(im, "quantization", None)) \
        if file_format == "JPEG" else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = ImageOps.exif_transpose(im)
            im.load()
    except OSError as e:
        raise GluonSRError(f"{path}: corrupt or truncated image ({e})")
    except Exception as e:  # Pillow plug-ins raise assorted errors on malformed files
        raise GluonSRError(f"{path}: cannot decode image ({type(e).__name__}: {e})")

    if _png_is_16bit(path, file_format):
        data = _read_16bit_png(path)
        if data is not None:
            if data.ndim == 2:
                return LoadedImage(np.repeat(data[..., None], 3, axis=2), None, 16, True)
            alpha = data[..., 3] if data.shape[2] == 4 else None
            return LoadedImage(np.ascontiguousarray(data[..., :3]), alpha, 16, False)

    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    gray = im.mode in ("1", "L", "LA", "I", "I;16", "F")
    if im.mode in ("I", "I;16", "F"):
        arr = np.asarray(im, dtype=np.float32)
        top = float(arr.max()) if arr.size else 0.0
        # Float images (mode F) usually hold 0..1 already; integer ones 0..255 or 0..65535.
        full_scale = 1.0 if im.mode == "F" and top <= 1.0 else 65535.0 if top > 255 else 255.0
        arr = np.clip(arr / full_scale, 0.0, 1.0)
        return LoadedImage(np.repeat(arr[..., None], 3, axis=2), None, 8, True)
    rgba = np.asarray(im.convert("RGBA" if has_alpha else "RGB"), dtype=np.float32) / 255.0
    alpha = rgba[..., 3].copy() if has_alpha else None
    return LoadedImage(np.ascontiguousarray(rgba[..., :3]), alpha, 8, gray, quality)


def to_uint8(img):
    return np.clip(np.round(np.asarray(img) * 255.0), 0, 255).astype(np.uint8)


def _encode(rgb, alpha, bit_depth, gray):
    """Pixels ready for the writer: (array, 'pil' | 'cv2')."""
    rgb = np.clip(rgb, 0.0, 1.0)
    if gray:
        rgb = rgb.mean(axis=2, keepdims=True)
    channels = rgb if alpha is None else np.concatenate([rgb, np.clip(alpha, 0, 1)[..., None]], 2)
    if bit_depth == 16:
        return np.round(channels * 65535.0).astype(np.uint16), "cv2"
    return to_uint8(channels), "pil"


def write_image(path, rgb, alpha=None, bit_depth=8, gray=False):
    """Write atomically (temp file + rename): a failed write never leaves a partial file."""
    data, writer = _encode(rgb, alpha, bit_depth, gray)
    folder = os.path.dirname(os.path.abspath(path))
    suffix = os.path.splitext(path)[1].lower() or ".png"
    if suffix not in IMAGE_SUFFIXES:
        raise GluonSRError(f"{path}: cannot write output (unsupported format {suffix!r}; "
                           f"use one of {', '.join(IMAGE_SUFFIXES)})")
    if bit_depth == 16 and suffix != ".png":
        raise GluonSRError(f"{path}: 16-bit output needs a .png file name")
    if suffix in (".jpg", ".jpeg") and alpha is not None:
        raise GluonSRError(f"{path}: JPEG cannot hold the alpha channel; use .png")
    if not os.path.isdir(folder):
        raise GluonSRError(f"{path}: output folder {folder} does not exist")
    try:
        with atomic_path(path, suffix) as tmp:
            if writer == "cv2":
                import cv2

                conversion = {3: cv2.COLOR_RGB2BGR, 4: cv2.COLOR_RGBA2BGRA}.get(data.shape[2])
                out = cv2.cvtColor(data, conversion) if conversion is not None else data[..., 0]
                if not cv2.imwrite(tmp, out):
                    raise OSError("OpenCV could not encode the image")
            else:
                img = Image.fromarray(data[..., 0] if data.shape[2] == 1 else data)
                img.save(tmp, format=Image.registered_extensions()[suffix],
                         **({"quality": 95} if suffix in (".jpg", ".jpeg") else {}))
    except (OSError, ValueError, KeyError) as e:
        raise GluonSRError(f"{path}: cannot write output ({getattr(e, 'strerror', None) or e})")


def list_images(inputs):
    """Expand files and folders (recursively, sorted) into a list of image paths."""
    paths = []
    for item in inputs:
        if os.path.isdir(item):
            found = []
            for root, _, files in os.walk(item):
                found.extend(os.path.join(root, f) for f in files
                             if f.lower().endswith(IMAGE_SUFFIXES) and not f.startswith("."))
            paths.extend(sorted(found))
        else:
            paths.append(item)
    return paths
