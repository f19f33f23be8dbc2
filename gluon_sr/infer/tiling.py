"""Running an image-to-image network on whole images, in tiles when they are large.

Tiles overlap by the network's receptive radius, and only each tile's centre is kept, so the
tiled result equals the whole-image result while memory stays bounded by the tile size. The
padding that networks with poolings need (sides a multiple of their alignment, a reflected
frame) is here too.
"""
import numpy as np

from gluon_sr.utils.errors import GluonSRError

MAX_OUTPUT_PIXELS = 400_000_000


def pad_to_alignment(img, align):
    """An HxWxC image reflected at its bottom and right edges to sides that are multiples of
    `align` (repeated instead where it is too small to reflect)."""
    h, w = img.shape[:2]
    ph, pw = (-h) % align, (-w) % align
    if ph or pw:
        mode = "reflect" if min(h, w) > max(ph, pw) else "edge"
        img = np.pad(img, ((0, ph), (0, pw), (0, 0)), mode=mode)
    return img


def reflect_frame(img, border, align):
    """An HxWxC image reflected by `border` at each side, then at its bottom and right edges
    to multiples of `align`."""
    framed = np.pad(img, ((border, border), (border, border), (0, 0)), mode="reflect")
    return pad_to_alignment(framed, align)


def default_tile(model):
    """Input pixels per tile side. Nets that compute at input resolution (sub-pixel output)
    take large tiles; nets with layers at output resolution use scale^2 more memory per pixel."""
    return 512 if getattr(model.config, "upsampler", "") == "subpixel" else 192


def tile_spans(length, tile, margin):
    """[(start, stop, crop_start, crop_stop)] covering 0..length with tiles of `tile` plus margin."""
    spans = []
    for start in range(0, length, tile):
        stop = min(start + tile, length)
        spans.append((start, stop, max(0, start - margin), min(length, stop + margin)))
    return spans


def tiles(h, w, tile, margin):
    """Every (row span, column span) pair of an h x w image, as tile_spans gives them."""
    for y in tile_spans(h, tile, margin):
        for x in tile_spans(w, tile, margin):
            yield y, x


def run_network(model, rgb, tile=None, clip=True):
    """Apply an InferenceModel (0..1 RGB in, 0..1 RGB out at model.scale x) to an HxWx3 array.

    tile: input pixels per tile side; 0 = whole image; None = tile only large images.
    Returns an (H*scale)x(W*scale)x3 float32 array, clipped to 0..1 unless `clip` is False.
    """
    scale = model.scale
    h, w = rgb.shape[:2]
    if h * w * scale * scale > MAX_OUTPUT_PIXELS:
        raise GluonSRError(f"output would be {w * scale}x{h * scale} ({h * w * scale * scale / 1e6:.0f}"
                           f" MP; limit {MAX_OUTPUT_PIXELS / 1e6:.0f} MP)")
    chw = np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32)
    if tile is None:
        tile = default_tile(model)
        tile = tile if h * w > 1.5 * tile ** 2 else 0
    if not tile or (h <= tile and w <= tile):
        out = model.forward(chw[None])[0]
    else:
        out = np.empty((3, h * scale, w * scale), dtype=np.float32)
        for (y0, y1, cy0, cy1), (x0, x1, cx0, cx1) in tiles(h, w, tile, model.receptive_radius):
            pred = model.forward(chw[None, :, cy0:cy1, cx0:cx1])[0]
            oy, ox = (y0 - cy0) * scale, (x0 - cx0) * scale
            out[:, y0 * scale:y1 * scale, x0 * scale:x1 * scale] = \
                pred[:, oy:oy + (y1 - y0) * scale, ox:ox + (x1 - x0) * scale]
    out = out.transpose(1, 2, 0)
    return np.clip(out, 0.0, 1.0) if clip else out


# The eight flips and quarter turns of the square: (quarter turns, mirror first).
DIHEDRAL = tuple((turns, mirror) for mirror in (False, True) for turns in range(4))


def run_self_ensemble(model, rgb, tile=None, clip=True):
    """EDSR+'s geometric self-ensemble: the mean of the network's outputs for the eight flipped
    and rotated copies of the input, each turned back. Eight times the work for a PSNR gain
    (the network is not exactly equivariant, so its errors partly average out)."""
    total = None
    for turns, mirror in DIHEDRAL:
        view = np.rot90(rgb[:, ::-1] if mirror else rgb, turns)
        out = np.rot90(run_network(model, np.ascontiguousarray(view), tile=tile, clip=False),
                       -turns)
        out = out[:, ::-1] if mirror else out
        total = out if total is None else total + out
    out = total / len(DIHEDRAL)
    return np.clip(out, 0.0, 1.0) if clip else out
