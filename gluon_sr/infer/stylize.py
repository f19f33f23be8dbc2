"""`Stylizer`: a style network applied to whole images: working size, reflected border, exact
tiling, colour preservation and strength.

Exact tiling of an instance-norm network: every StatNorm layer, in order, gathers its input's
per-channel sum and sum of squares over the whole image tile by tile (only each tile's core,
computed with enough margin to be exact), and then normalises with those whole-image
statistics; once all layers are fixed, tiles are rendered and their cores assembled. The
result equals whole-image inference while memory stays bounded by the tile size. The switches
act on the model's imperative copy, so the fast (hybridized, fused) path is never disturbed.
"""
import os

import numpy as np

from gluon_sr.infer.loader import load_for_inference
from gluon_sr.infer.tiling import reflect_frame, tiles
from gluon_sr.utils.color import rgb_to_ycbcr, ycbcr_to_rgb
from gluon_sr.utils.errors import GluonSRError

# Exact tiling costs about one forward pass per normalisation layer (15 in Johnson's net), so
# whole-image inference is used up to ~3.5 MP (about 4 GB of memory); tiles above that.
DEFAULT_TILE = 1536
BORDER = 32


class Stylizer:
    def __init__(self, model_name, backend="mxnet", precision="fp32", ctx=None, tile=None,
                 size=0, preserve_color=False, strength=1.0, model=None):
        """model: an already loaded InferenceModel (then model_name, backend, precision and
        ctx are not used). size: working resolution, the longer side (0 = as it is)."""
        self.model = model or load_for_inference(model_name, backend, precision, ctx)
        if self.model.task != "style":
            raise GluonSRError(f"model {self.model.name} is not a style transfer model")
        self.tile, self.size = tile, size
        self.preserve_color, self.strength = preserve_color, strength
        self.suffix = _base_name(self.model.name)

    def output_size(self, width, height):
        return working_size(width, height, self.size)

    def __call__(self, image):
        """Stylise a LoadedImage. Returns (rgb, alpha) at the working resolution."""
        content = working_copy(image.rgb, self.size)
        out = run_transform(self.model, content, tile=self.tile)
        return finish(out, content, self.preserve_color, self.strength), \
            working_alpha(image, self.size)


def _base_name(name):
    return os.path.splitext(os.path.basename(name))[0]


class _Collected(Exception):
    """Raised inside a forward pass once the layer being measured has seen its input."""


def run_transform(model, rgb, tile=None):
    """Stylise an HxWx3 float image with an InferenceModel (whole image, or exactly tiled).

    A model without an imperative MXNet copy (ONNX Runtime) always runs on the whole image:
    exact tiling switches the normalisation layers' statistics, which only Gluon can do.
    """
    h, w = rgb.shape[:2]
    # Networks trained on small crops paint bands along image edges; a reflected border
    # takes them and is cut off again.
    border = min(BORDER, h - 1, w - 1)
    padded = reflect_frame(np.asarray(rgb, dtype=np.float32), border, model.align)
    chw = np.ascontiguousarray(padded.transpose(2, 0, 1))
    H, W = padded.shape[:2]
    if tile is None:
        tile = DEFAULT_TILE if H * W > 1.5 * DEFAULT_TILE ** 2 else 0
    net = model.imperative_net() if tile and (H > tile or W > tile) else None
    if net is None:
        out = model.forward(chw[None])[0]
    else:
        out = _run_tiled(net, chw, -(-tile // model.align) * model.align,
                         model.receptive_radius)
    out = out.transpose(1, 2, 0)[border:border + h, border:border + w]
    return np.clip(out, 0.0, 1.0)


def _run_tiled(net, chw, tile, margin):
    import mxnet as mx

    from gluon_sr.archs.transform_net import stat_norms

    ctx = net.collect_params().list_ctx()[0]

    def forward(y0, y1, x0, x1):
        return net(mx.nd.array(chw[None, :, y0:y1, x0:x1], ctx=ctx))[0]

    _, H, W = chw.shape
    norms = stat_norms(net)
    try:
        for norm in norms:
            norm.fixed = None
        for norm in norms:
            sums = sumsq = 0.0
            count = 0
            for (y0, y1, cy0, cy1), (x0, x1, cx0, cx1) in tiles(H, W, tile, margin):
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
                    forward(cy0, cy1, cx0, cx1)
                except _Collected:
                    pass
            norm.collect = None
            mean = sums / count
            var = np.maximum(sumsq / count - mean ** 2, 0.0)
            norm.fixed = (mx.nd.array(mean.reshape(1, -1, 1, 1), ctx=ctx),
                          mx.nd.array(var.reshape(1, -1, 1, 1), ctx=ctx))
        out = np.empty_like(chw)
        for (y0, y1, cy0, cy1), (x0, x1, cx0, cx1) in tiles(H, W, tile, margin):
            pred = forward(cy0, cy1, cx0, cx1).asnumpy()
            out[:, y0:y1, x0:x1] = pred[:, y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0]
        return out
    finally:
        for norm in norms:
            norm.fixed = norm.collect = None


def preserve_colour(stylised, content):
    """Luminance-only transfer (Gatys et al. 2016): stylised Y with the content's CbCr."""
    y = rgb_to_ycbcr(stylised)[..., :1]
    cbcr = rgb_to_ycbcr(content)[..., 1:]
    return np.clip(ycbcr_to_rgb(np.concatenate([y, cbcr], axis=-1)), 0, 1).astype(np.float32)


def blend(stylised, content, strength):
    """strength 1 = fully stylised, 0 = the content image."""
    return (strength * stylised + (1 - strength) * content).astype(np.float32)


def working_size(width, height, size):
    """(width, height) scaled so that the longer side is `size` (0 = unchanged)."""
    if not size or max(width, height) == size:
        return width, height
    scale = size / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def working_copy(rgb, size):
    """The image resized so that its longer side is `size` (0 = unchanged)."""
    from PIL import Image

    h, w = rgb.shape[:2]
    new = working_size(w, h, size)
    if new == (w, h):
        return rgb
    chans = [np.asarray(Image.fromarray(rgb[..., c].astype(np.float32), mode="F")
                        .resize(new, Image.BICUBIC)) for c in range(rgb.shape[2])]
    return np.clip(np.stack(chans, axis=-1), 0, 1).astype(np.float32)


def working_alpha(image, size):
    """The input's alpha at the working resolution, so stylised images keep transparency."""
    if image.alpha is None:
        return None
    return working_copy(image.alpha[..., None], size)[..., 0]


def finish(stylised, content, preserve_color=False, strength=1.0):
    """Colour preservation and strength, applied to any stylised result."""
    if preserve_color:
        stylised = preserve_colour(stylised, content)
    if strength != 1.0:
        stylised = blend(stylised, content, strength)
    return stylised
