"""Running an image-to-image network on whole images, in tiles when they are large.

Tiles overlap by the network's receptive radius, and only each tile's centre is kept, so the
tiled result equals the whole-image result while memory stays bounded by the tile size.
"""
import time

import numpy as np

from .errors import GluonSRError

MAX_OUTPUT_PIXELS = 400_000_000


def inference_defaults(meta):
    """How infer.py / evaluate run a model unless told otherwise.

    SR models trained with a VGG feature loss drift in colour (seed 002), so they get its
    histogram-matching post-process by default; a sidecar's "inference" entry overrides that.
    """
    trained_perceptual = (meta.get("task", "sr") == "sr"
                          and meta.get("training", {}).get("feat_weight", 0) > 0)
    return {"hist_match": bool(meta.get("inference", {}).get("hist_match", trained_perceptual))}


def default_tile(net):
    """Input pixels per tile side. Nets that compute at input resolution (sub-pixel output)
    take large tiles; nets with layers at output resolution use scale^2 more memory per pixel."""
    config = getattr(net, "config", None)
    return 512 if getattr(config, "upsampler", "") == "subpixel" else 192


def _forward(net, chw, ctx):
    if hasattr(net, "run_numpy"):          # an ONNX Runtime model: no MXNet involved
        return net.run_numpy(chw[None])[0]
    import mxnet as mx

    x = mx.nd.array(chw[None], ctx=ctx or mx.cpu(), dtype="float32")
    return net(x)[0].asnumpy()


def tile_spans(length, tile, margin):
    """[(start, stop, crop_start, crop_stop)] covering 0..length with tiles of `tile` plus margin."""
    spans = []
    for start in range(0, length, tile):
        stop = min(start + tile, length)
        spans.append((start, stop, max(0, start - margin), min(length, stop + margin)))
    return spans


def run_network(net, rgb, scale, tile=None, ctx=None, clip=True):
    """Apply `net` (0..1 RGB in, 0..1 RGB out at `scale`x) to an HxWx3 float array.

    tile: input pixels per tile side; 0 = whole image; None = tile only large images.
    Returns an (H*scale)x(W*scale)x3 float32 array, clipped to 0..1 unless `clip` is False.
    `net` is a Gluon network or a gluon_sr.onnx_backend.OnnxModel.
    """
    h, w = rgb.shape[:2]
    if h * w * scale * scale > MAX_OUTPUT_PIXELS:
        raise GluonSRError(f"output would be {w * scale}x{h * scale} "
                           f"({h * w * scale * scale / 1e6:.0f} MP; limit {MAX_OUTPUT_PIXELS / 1e6:.0f} MP)")
    chw = np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32)
    if tile is None:
        tile = default_tile(net)
        tile = tile if h * w > 1.5 * tile ** 2 else 0
    if not tile or (h <= tile and w <= tile):
        out = _forward(net, chw, ctx)
    else:
        margin = net.receptive_radius()
        out = np.empty((3, h * scale, w * scale), dtype=np.float32)
        for y0, y1, cy0, cy1 in tile_spans(h, tile, margin):
            for x0, x1, cx0, cx1 in tile_spans(w, tile, margin):
                pred = _forward(net, chw[:, cy0:cy1, cx0:cx1], ctx)
                oy, ox = (y0 - cy0) * scale, (x0 - cx0) * scale
                out[:, y0 * scale:y1 * scale, x0 * scale:x1 * scale] = \
                    pred[:, oy:oy + (y1 - y0) * scale, ox:ox + (x1 - x0) * scale]
    out = out.transpose(1, 2, 0)
    return np.clip(out, 0.0, 1.0) if clip else out


# The eight flips and quarter turns of the square: (quarter turns, mirror first).
DIHEDRAL = tuple((turns, mirror) for mirror in (False, True) for turns in range(4))


def run_self_ensemble(net, rgb, scale, tile=None, ctx=None, clip=True):
    """EDSR+'s geometric self-ensemble: the mean of the network's outputs for the eight flipped
    and rotated copies of the input, each turned back. Eight times the work for a PSNR gain
    (the network is not exactly equivariant, so its errors partly average out)."""
    total = None
    for turns, mirror in DIHEDRAL:
        view = np.rot90(rgb[:, ::-1] if mirror else rgb, turns)
        out = np.rot90(run_network(net, np.ascontiguousarray(view), scale, tile=tile, ctx=ctx,
                                   clip=False), -turns)
        out = out[:, ::-1] if mirror else out
        total = out if total is None else total + out
    out = total / len(DIHEDRAL)
    return np.clip(out, 0.0, 1.0) if clip else out


def upscale_image(net, image, scale, tile=None, hist_match=False, ctx=None,
                  self_ensemble=False):
    """Upscale a LoadedImage. Returns (rgb, alpha, seconds)."""
    from .color import match_histograms
    from .imresize import imresize

    start = time.perf_counter()
    run = run_self_ensemble if self_ensemble else run_network
    # Histogram matching sees the unclipped output: clipping first would merge every
    # out-of-range pixel into one tied value, which matching cannot spread again.
    out = run(net, image.rgb, scale, tile=tile, ctx=ctx, clip=not hist_match)
    if hist_match:
        # Seed 002's post-process: match output colours to the bicubic upscale of the input.
        reference = np.clip(imresize(image.rgb.astype(np.float64), scale), 0, 1)
        out = match_histograms(out, reference)
    alpha = None
    if image.alpha is not None:
        # Alpha is upscaled on its own (bicubic): the network was trained on colour only.
        alpha = np.clip(imresize(image.alpha.astype(np.float64), scale), 0, 1).astype(np.float32)
    return out, alpha, time.perf_counter() - start
