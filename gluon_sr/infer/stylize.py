"""Running a style TransformNet on whole images: padding, exact tiling, colour, strength.

Exact tiling of an instance-norm network: every StatNorm layer, in order, gathers its input's
per-channel sum and sum of squares over the whole image tile by tile (only each tile's core,
computed with enough margin to be exact), and then normalises with those whole-image
statistics; once all layers are fixed, tiles are rendered and their cores assembled. The
result equals whole-image inference while memory stays bounded by the tile size.
"""
import numpy as np

from .color import rgb_to_ycbcr, ycbcr_to_rgb
from .inference import tile_spans

# Exact tiling costs about one forward pass per normalisation layer (15 in Johnson's net), so
# whole-image inference is used up to ~3.5 MP (about 4 GB of memory); tiles above that.
DEFAULT_TILE = 1536
BORDER = 32


class _Collected(Exception):
    """Raised inside a forward pass once the layer being measured has seen its input."""


def _pad_to_alignment(img, align):
    h, w = img.shape[:2]
    ph, pw = (-h) % align, (-w) % align
    if ph or pw:
        img = np.pad(img, ((0, ph), (0, pw), (0, 0)), mode="reflect")
    return img


def _forward(net, chw, ctx):
    if hasattr(net, "run_numpy"):          # an ONNX Runtime model
        return net.run_numpy(chw[None])[0]
    import mxnet as mx

    return net(mx.nd.array(chw[None], ctx=ctx or mx.cpu()))[0].asnumpy()


def _tiles(h, w, tile, margin):
    for y in tile_spans(h, tile, margin):
        for x in tile_spans(w, tile, margin):
            yield y, x


def run_transform(net, rgb, tile=None, ctx=None):
    """Stylise an HxWx3 float image with `net` (whole image, or exactly tiled).

    An ONNX Runtime model always runs on the whole image: exact tiling switches the
    normalisation layers' statistics, which only the Gluon network can do.
    """
    h, w = rgb.shape[:2]
    align = net.align            # image sides the net maps to the same size (TransformNet.ALIGN)
    # Networks trained on small crops paint bands along image edges; a reflected border
    # takes them and is cut off again.
    border = min(BORDER, h - 1, w - 1)
    padded = np.pad(np.asarray(rgb, dtype=np.float32), ((border, border), (border, border), (0, 0)),
                    mode="reflect")
    padded = _pad_to_alignment(padded, align)
    chw = np.ascontiguousarray(padded.transpose(2, 0, 1))
    H, W = padded.shape[:2]
    if tile is None:
        tile = DEFAULT_TILE if H * W > 1.5 * DEFAULT_TILE ** 2 else 0
    if not tile or (H <= tile and W <= tile) or hasattr(net, "run_numpy"):
        out = _forward(net, chw, ctx)
    else:
        out = _run_tiled(net, chw, -(-tile // align) * align, ctx)
    out = out.transpose(1, 2, 0)[border:border + h, border:border + w]
    return np.clip(out, 0.0, 1.0)


def _run_tiled(net, chw, tile, ctx):
    import mxnet as mx

    from .archs.transform_net import stat_norms

    ctx = ctx or mx.cpu()
    _, H, W = chw.shape
    margin = net.receptive_radius()
    norms = stat_norms(net)
    was_hybridized = net._active
    net.hybridize(active=False)         # the statistics switches act in imperative mode
    try:
        for norm in norms:
            norm.fixed = None
        for norm in norms:
            sums = sumsq = 0.0
            count = 0
            for (y0, y1, cy0, cy1), (x0, x1, cx0, cx1) in _tiles(H, W, tile, margin):
                def collect(x, y0=y0, y1=y1, cy0=cy0, x0=x0, x1=x1, cx0=cx0, cy1=cy1):
                    nonlocal sums, sumsq, count
                    f = (cy1 - cy0) // x.shape[2]
                    core = x[0, :, (y0 - cy0) // f:(y1 - cy0) // f,
                             (x0 - cx0) // f:(x1 - cx0) // f].asnumpy().astype(np.float64)
                    sums = sums + core.sum(axis=(1, 2))
                    sumsq = sumsq + (core ** 2).sum(axis=(1, 2))
                    count += core.shape[1] * core.shape[2]
                    raise _Collected
                norm.collect = collect
                try:
                    _forward(net, chw[:, cy0:cy1, cx0:cx1], ctx)
                except _Collected:
                    pass
            norm.collect = None
            mean = sums / count
            var = np.maximum(sumsq / count - mean ** 2, 0.0)
            norm.fixed = (mx.nd.array(mean.reshape(1, -1, 1, 1), ctx=ctx),
                          mx.nd.array(var.reshape(1, -1, 1, 1), ctx=ctx))
        out = np.empty_like(chw)
        for (y0, y1, cy0, cy1), (x0, x1, cx0, cx1) in _tiles(H, W, tile, margin):
            pred = _forward(net, chw[:, cy0:cy1, cx0:cx1], ctx)
            out[:, y0:y1, x0:x1] = pred[:, y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0]
        return out
    finally:
        for norm in norms:
            norm.fixed = norm.collect = None
        if was_hybridized:
            net.hybridize(active=True)


def preserve_colour(stylised, content):
    """Luminance-only transfer (Gatys et al. 2016): stylised Y with the content's CbCr."""
    y = rgb_to_ycbcr(stylised)[..., :1]
    cbcr = rgb_to_ycbcr(content)[..., 1:]
    return np.clip(ycbcr_to_rgb(np.concatenate([y, cbcr], axis=-1)), 0, 1).astype(np.float32)


def blend(stylised, content, strength):
    """strength 1 = fully stylised, 0 = the content image."""
    return (strength * stylised + (1 - strength) * content).astype(np.float32)


def working_copy(rgb, size):
    """The image resized so that its longer side is `size` (0 = unchanged)."""
    from PIL import Image

    if not size or max(rgb.shape[:2]) == size:
        return rgb
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    chans = [np.asarray(Image.fromarray(rgb[..., c].astype(np.float32), mode="F")
                        .resize(new, Image.BICUBIC)) for c in range(3)]
    return np.clip(np.stack(chans, axis=-1), 0, 1).astype(np.float32)


def finish(stylised, content, preserve_color=False, strength=1.0):
    """Colour preservation and strength, applied to any stylised result."""
    if preserve_color:
        stylised = preserve_colour(stylised, content)
    if strength != 1.0:
        stylised = blend(stylised, content, strength)
    return stylised
