"""AdaIN's pipeline: any painting's style in one forward pass (Huang & Belongie 2017).

    encode   VGG16 to relu4_1 (the user's weights, as in training), exactly tiled on large
             images: tiles start on the 8-pixel grid of the three poolings and overlap by
             more than the encoder's receptive radius, so their cores equal the whole image's
    AdaIN    content features take each painting's per-channel mean and std; several paintings
             mix by weight, a mask gives the inside one painting and the outside another (or
             the photo), alpha mixes in the photo's own features
    decode   the trained decoder, tiled the same way over the feature map

The statistics are those of the whole image whatever the tiling (the feature map is gathered
first), so a tiled result equals the whole-image one. Colour preservation is the paper's: the
painting first takes the photo's colour mean and covariance. The networks are loaded on a
backend by gluon_sr.infer.loader.load_adain; infer.py's AdaINStylizer is in adain_stylizer.
"""

import hashlib

import numpy as np

from gluon_sr.archs.adain import ENCODER_RADIUS, EPS
from gluon_sr.infer.tiling import pad_to_alignment, reflect_frame, tiles

ALIGN = 8                   # three 2x2 poolings between the input and relu4_1
ENCODER_MARGIN = -(-ENCODER_RADIUS // ALIGN) * ALIGN     # tiles' overlap, on the 8 px grid
# Whole-image inference up to ~1.5 MP (a few GB at 64 channels x full resolution); tiles above.
DEFAULT_TILE = 1024
STYLE_SIZE = 256            # the shorter side paintings had in training
STYLE_CACHE_SIZE = 16       # paintings whose statistics a transfer remembers
# The photo is reflected by this much at each side before the encoder and cut back after the
# decoder: trained on crops seen through VGG's zero padding, the decoder paints a dark band
# along image edges, which the frame moves out of the picture (as for the style networks).
# A multiple of ALIGN, so that the frame is whole feature pixels.
BORDER = 32


def match_colour(source, target):
    """`source` (HxWx3, 0..1) with `target`'s colour mean and covariance (the paper's colour
    preservation: a linear map of RGB, x -> A (x - mu_s) + mu_t with A = C_t^1/2 C_s^-1/2)."""
    def stats(img):
        pixels = img.reshape(-1, 3).astype(np.float64)
        return pixels.mean(axis=0), np.cov(pixels, rowvar=False) + 1e-5 * np.eye(3)

    def sqrt_and_inverse(cov):
        values, vectors = np.linalg.eigh(cov)
        root = np.sqrt(np.maximum(values, 1e-12))
        return (vectors * root) @ vectors.T, (vectors / root) @ vectors.T

    mean_s, cov_s = stats(source)
    mean_t, cov_t = stats(target)
    transform = sqrt_and_inverse(cov_t)[0] @ sqrt_and_inverse(cov_s)[1]
    out = (source.reshape(-1, 3) - mean_s) @ transform.T + mean_t
    return np.clip(out.reshape(source.shape), 0, 1).astype(np.float32)


def feature_stats(feats, weights=None):
    """Per-channel mean and std (as channel_mean_std) of C x h x w features, over the pixels
    weighted by `weights` (h x w, default all). The sums are taken in float64, the
    element-wise work in the features' float32 (half the time of float64 copies)."""
    f = np.asarray(feats, np.float32)
    w = None if weights is None else weights.astype(np.float32)
    total = f[0].size if w is None else max(float(w.sum(dtype=np.float64)), 1e-8)

    def weighted_sum(x):
        return (x if w is None else x * w).sum(axis=(1, 2), dtype=np.float64)

    mean = weighted_sum(f) / total
    var = weighted_sum(np.square(f - mean.astype(np.float32)[:, None, None])) / total
    return mean, np.sqrt(var + EPS)


def renormalise(feats, own, target):
    """AdaIN with numpy statistics: features normalised by their `own` (mean, std) and given
    `target`'s (float32)."""
    (mean, std), (t_mean, t_std) = own, target
    scale = (t_std / std).astype(np.float32)[:, None, None]
    shift = (t_mean - mean * t_std / std).astype(np.float32)[:, None, None]
    return feats * scale + shift


def frame_border(height, width):
    """The reflected frame for an image of this size: BORDER, or less (whole feature pixels)
    where the image is too small to reflect that far."""
    return min(BORDER, (min(height, width) - 1) // ALIGN * ALIGN)


def mask_at_features(mask, height, width, border=0):
    """A 0..1 mask (any size) resized to the height x width image, framed like it and averaged
    over each 8x8 cell: one value per feature pixel."""
    from PIL import Image

    resized = np.asarray(Image.fromarray(mask.astype(np.float32), mode="F")
                         .resize((width, height), Image.BILINEAR))
    framed = reflect_frame(resized[..., None], border, ALIGN)[..., 0]
    h, w = framed.shape[0] // ALIGN, framed.shape[1] // ALIGN
    return np.clip(framed.reshape(h, ALIGN, w, ALIGN).mean(axis=(1, 3)), 0, 1)


class AdaINTransfer:
    """The numpy-in, numpy-out pipeline around an encoder and a decoder, whatever runs them.

    encoder, decoder: functions of one C x H x W float32 array (the photo / relu4_1 features)
    returning the other; decoder_radius: the decoder's receptive radius in pixels."""

    task, align = "adain", ALIGN            # as --backend auto sees it (gluon_sr.deploy.auto)

    def __init__(self, encoder, decoder, decoder_radius, backend="mxnet", precision="fp32",
                 name="adain"):
        self.name = name
        self._encode, self._decode = encoder, decoder
        self.decoder_margin = decoder_radius // ALIGN + 2               # in feature pixels
        self.backend, self.precision = backend, precision
        self.note = f"{backend} {precision}"
        # Painting statistics by a digest of the painting's pixels: a run over many photos
        # with one painting (infer.py, the server) encodes the painting once.
        self.style_cache = {}

    @classmethod
    def from_gluon(cls, encoder, decoder, ctx=None, name="adain"):
        """Gluon blocks run as they are (a LossVGG16 to relu4_1 and an AdaIN decoder)."""
        import mxnet as mx

        ctx = ctx or mx.cpu()

        def encode(chw):
            return encoder(mx.nd.array(chw[None], ctx=ctx))["relu4_1"][0].asnumpy()

        def decode(chw):
            return decoder(mx.nd.array(chw[None], ctx=ctx))[0].asnumpy()

        return cls(encode, decode, decoder.receptive_radius(), name=name)

    def forward(self, nchw):
        """Photos (N, 3, H, W; sides multiples of 8) as the decoder redraws them from their own
        features (alpha 0): what --backend auto times and checks a precision on."""
        return np.stack([self._decode(self._encode(np.ascontiguousarray(x, np.float32)))
                         for x in nchw])

    def encode(self, rgb, tile=0):
        """relu4_1 features (512, H/8, W/8) of an HxWx3 image whose sides are multiples of 8."""
        h, w = rgb.shape[:2]
        if h % ALIGN or w % ALIGN:
            raise ValueError(f"image sides must be multiples of {ALIGN}, got {w}x{h}")
        chw = np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32)
        if not tile or (h <= tile and w <= tile):
            return self._encode(chw)
        tile = -(-tile // ALIGN) * ALIGN
        out = None
        for (y0, y1, cy0, cy1), (x0, x1, cx0, cx1) in tiles(h, w, tile, ENCODER_MARGIN):
            feats = self._encode(np.ascontiguousarray(chw[:, cy0:cy1, cx0:cx1]))
            if out is None:
                out = np.empty((feats.shape[0], h // ALIGN, w // ALIGN), np.float32)
            a = ALIGN
            out[:, y0 // a:y1 // a, x0 // a:x1 // a] = \
                feats[:, (y0 - cy0) // a:(y1 - cy0) // a, (x0 - cx0) // a:(x1 - cx0) // a]
        return out

    def decode(self, feats, tile=0):
        """An image (H, W, 3), unclipped, from (512, H/8, W/8) features."""
        _, h, w = feats.shape
        step = -(-tile // ALIGN) if tile else 0
        if not step or (h <= step and w <= step):
            return self._decode(np.ascontiguousarray(feats, np.float32)).transpose(1, 2, 0)
        a = ALIGN
        out = np.empty((3, h * a, w * a), np.float32)
        for (y0, y1, cy0, cy1), (x0, x1, cx0, cx1) in tiles(h, w, step, self.decoder_margin):
            pred = self._decode(np.ascontiguousarray(feats[:, cy0:cy1, cx0:cx1], np.float32))
            out[:, y0 * a:y1 * a, x0 * a:x1 * a] = \
                pred[:, (y0 - cy0) * a:(y1 - cy0) * a, (x0 - cx0) * a:(x1 - cx0) * a]
        return out.transpose(1, 2, 0)

    def style_statistics(self, painting):
        """(mean, std) of a painting's relu4_1 features, encoded whole (or remembered)."""
        key = hashlib.blake2b(np.ascontiguousarray(painting).view(np.uint8), digest_size=16,
                              person=str(painting.shape).encode()[:16]).hexdigest()
        if key not in self.style_cache:
            if len(self.style_cache) >= STYLE_CACHE_SIZE:
                self.style_cache.pop(next(iter(self.style_cache)))
            self.style_cache[key] = feature_stats(self.encode(pad_to_alignment(painting, ALIGN)))
        return self.style_cache[key]

    def target_features(self, content_feats, styles, weights=None, mask=None, alpha=1.0,
                        picture=None):
        """The features to decode. styles: [(mean, std)] of the paintings. weights: how to mix
        them (default equal). mask (at feature resolution, 0..1): inside takes styles[0],
        outside styles[1], or the photo's own features when there is one style. picture
        (boolean, at feature resolution; default all): where the photo's own statistics are
        taken, i.e. not its reflected frame."""
        picture = np.ones(content_feats.shape[1:], bool) if picture is None else picture
        if mask is None:
            weights = np.full(len(styles), 1.0 / len(styles)) if weights is None else weights
            own = feature_stats(content_feats, picture)
            target = sum(w * renormalise(content_feats, own, s) for w, s in zip(weights, styles))
        else:
            regions = []
            for region, style in zip((mask, 1.0 - mask), list(styles) + [None]):
                if style is None:
                    regions.append(content_feats)
                else:
                    own = feature_stats(content_feats, (region > 0.5) & picture)
                    regions.append(renormalise(content_feats, own, style))
            target = mask * regions[0] + (1.0 - mask) * regions[1]
        if alpha == 1.0:
            return target.astype(np.float32, copy=False)
        return (alpha * target + (1.0 - alpha) * content_feats).astype(np.float32)

    def __call__(self, content, paintings, weights=None, mask=None, alpha=1.0, tile=None,
                 preserve_color=False):
        """Stylise an HxWx3 image (0..1) with one or more paintings (HxWx3 each). mask:
        HxW 0..1 (any size; it is resized). Returns HxWx3 in 0..1."""
        h, w = content.shape[:2]
        border = frame_border(h, w)
        framed = reflect_frame(content, border, ALIGN)
        if tile is None:
            large = framed.shape[0] * framed.shape[1] > 1.5 * DEFAULT_TILE ** 2
            tile = DEFAULT_TILE if large else 0
        if preserve_color:
            paintings = [match_colour(p, content) for p in paintings]
        feats = self.encode(framed, tile)
        styles = [self.style_statistics(p) for p in paintings]
        if mask is not None:
            mask = mask_at_features(mask, h, w, border)
        picture = np.zeros(feats.shape[1:], bool)
        b = border // ALIGN
        picture[b:-(-(border + h) // ALIGN), b:-(-(border + w) // ALIGN)] = True
        target = self.target_features(feats, styles, weights, mask, alpha, picture)
        out = self.decode(target, tile)[border:border + h, border:border + w]
        return np.clip(out, 0.0, 1.0)


def read_painting(path, style_size=STYLE_SIZE):
    """A painting as AdaIN takes it: HxWx3 in 0..1, shorter side `style_size` (0 = as it is)."""
    from gluon_sr.data import content

    return content.read_painting(path, style_size)
