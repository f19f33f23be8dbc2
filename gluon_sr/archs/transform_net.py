"""Johnson et al.'s style transfer network (supplementary Table 1), with instance norm.

Reflection padding everywhere (zero padding leaves border artefacts in stylised images),
downsampling by stride-2 convs, five residual blocks at 1/4 resolution, and x2 upsampling by
nearest-neighbour resize + conv (Odena et al.: no checkerboard artefacts) or transposed conv.

`norm_stages` chooses where instance norm sits: Johnson's net has it after every conv
(encoder, residual body, upsampler); normalised only in the encoder, the net paints no bright
blobs (docs/style_blobs.md).

Instance norm normalises with whole-image statistics, so tiles of a large image would each be
normalised differently. `StatNorm` can be switched to fixed statistics; gluon_sr.infer.stylize
gathers the whole-image statistics tile by tile and then renders the tiles exactly.
"""
from dataclasses import dataclass

from mxnet.gluon import HybridBlock, nn

from .layers import FewChannelConv2D

UPSAMPLERS = ("resize", "deconv")
NORMS = ("instance", "batch")
OUTPUTS = ("tanh", "linear")
STAGES = ("encoder", "body", "upsampler")
# Both stride-2 stages must see the same sampling grid in a tile as in the whole image.
ALIGN = 4


@dataclass
class TransformNetConfig:
    channels: int = 32          # width of the first conv; then 2x and 4x
    num_blocks: int = 5
    norm: str = "instance"
    upsampler: str = "resize"
    output: str = "tanh"        # Johnson's scaled tanh into 0..1, or linear (clipped later)
    # Which stages normalise (Johnson: all). Instance norm divides by whole-image statistics,
    # which lets a net scale every position down by planting one strong peak (docs/style_blobs.md).
    norm_stages: tuple = STAGES

    def validate(self):
        for name, value, allowed in (("upsampler", self.upsampler, UPSAMPLERS),
                                     ("norm", self.norm, NORMS), ("output", self.output, OUTPUTS)):
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}; expected one of {allowed}")
        unknown = set(self.norm_stages) - set(STAGES)
        if unknown:
            raise ValueError(f"unknown norm stage(s) {sorted(unknown)}; expected some of {STAGES}")
        if self.channels < 1 or self.num_blocks < 0:
            raise ValueError("channels must be >= 1 and num_blocks >= 0")


class StatNorm(HybridBlock):
    """Instance norm whose statistics can be replaced by fixed (whole-image) ones.

    mode None: ordinary instance norm. `fixed = (mean, var)` (NDArrays shaped (1, C, 1, 1)):
    normalise with those instead. `collect` (a callable): hand it the input, then continue.
    The two switches only act in imperative (non-hybridized) use, which tiling uses.
    """

    def __init__(self, channels, eps=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.eps = eps
        self.fixed = None
        self.collect = None
        # MXNet's InstanceNorm operator is ~2x slower on CPU than LayerNorm over each channel's
        # H*W values (the same function); the operator is kept for ONNX export, where it maps
        # to InstanceNormalization.
        self.use_instance_norm_op = False
        with self.name_scope():
            self.gamma = self.params.get("gamma", shape=(channels,), init="ones")
            self.beta = self.params.get("beta", shape=(channels,), init="zeros")

    def hybrid_forward(self, F, x, gamma, beta):
        if self.collect is not None:
            self.collect(x)
        if self.fixed is None and self.use_instance_norm_op:
            return F.InstanceNorm(x, gamma, beta, eps=self.eps)
        if self.fixed is None:
            flat = F.reshape(x, shape=(0, 0, -1))                       # N, C, H*W
            first_row = F.reshape(F.slice_axis(F.slice_axis(flat, axis=0, begin=0, end=1),
                                               axis=1, begin=0, end=1), shape=(-1,))
            x = F.reshape_like(F.LayerNorm(flat, F.ones_like(first_row),
                                           F.zeros_like(first_row), axis=-1, eps=self.eps), x)
        else:
            mean, var = self.fixed
            x = F.broadcast_div(F.broadcast_sub(x, mean), F.sqrt(var + self.eps))
        return F.broadcast_add(F.broadcast_mul(x, F.reshape(gamma, shape=(1, -1, 1, 1))),
                               F.reshape(beta, shape=(1, -1, 1, 1)))


def stat_norms(block):
    """Every StatNorm inside `block`, in forward order."""
    found = [block] if isinstance(block, StatNorm) else []
    for child in block._children.values():
        found.extend(stat_norms(child))
    return found


def _norm(kind, channels):
    return StatNorm(channels) if kind == "instance" else nn.BatchNorm(momentum=0.9)


class ReflectConv(HybridBlock):
    """Reflection padding + conv (+ norm + ReLU)."""

    def __init__(self, channels, kernel, stride=1, norm=None, relu=True, rgb_from=0, **kwargs):
        super().__init__(**kwargs)
        self.pad = kernel // 2
        with self.name_scope():
            if rgb_from:
                # RGB output from `rgb_from` channels: run as a 16-channel conv (see
                # FewChannelConv2D); the reflection padding is done here.
                self.conv = FewChannelConv2D(channels, kernel, in_channels=rgb_from, padding=0)
            else:
                self.conv = nn.Conv2D(channels, kernel, strides=stride, use_bias=norm is None)
            self.norm = _norm(norm, channels) if norm else None
        self.relu = relu

    def hybrid_forward(self, F, x):
        if self.pad:
            x = F.pad(x, mode="reflect", pad_width=(0, 0, 0, 0) + (self.pad,) * 4)
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        return F.relu(x) if self.relu else x


class StyleResidualBlock(HybridBlock):
    def __init__(self, channels, norm, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.conv1 = ReflectConv(channels, 3, norm=norm)
            self.conv2 = ReflectConv(channels, 3, norm=norm, relu=False)

    def hybrid_forward(self, F, x):
        return x + self.conv2(self.conv1(x))


class UpsampleConv(HybridBlock):
    """x2 upsampling: nearest resize + 3x3 conv, or a 3x3 stride-2 transposed conv."""

    def __init__(self, channels, kind, norm, **kwargs):
        super().__init__(**kwargs)
        self.kind = kind
        with self.name_scope():
            if kind == "resize":
                self.conv = ReflectConv(channels, 3, norm=norm)
            else:
                self.deconv = nn.Conv2DTranspose(channels, 3, strides=2, padding=1,
                                                 output_padding=1, use_bias=norm is None)
                self.norm = _norm(norm, channels) if norm else None

    def hybrid_forward(self, F, x):
        if self.kind == "resize":
            return self.conv(F.UpSampling(x, scale=2, sample_type="nearest"))
        x = self.deconv(x)
        return F.relu(self.norm(x) if self.norm is not None else x)


class TransformNet(HybridBlock):
    """RGB 0..1 in, stylised RGB 0..1 out, same size for sides that are multiples of 4."""

    align = ALIGN

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        config.validate()
        self.config = c = config
        encoder, body, upsampler = (c.norm if stage in c.norm_stages else None
                                    for stage in STAGES)
        with self.name_scope():
            self.layers = nn.HybridSequential()
            self.layers.add(ReflectConv(c.channels, 9, norm=encoder),
                            ReflectConv(c.channels * 2, 3, stride=2, norm=encoder),
                            ReflectConv(c.channels * 4, 3, stride=2, norm=encoder))
            for _ in range(c.num_blocks):
                self.layers.add(StyleResidualBlock(c.channels * 4, body))
            self.layers.add(UpsampleConv(c.channels * 2, c.upsampler, upsampler),
                            UpsampleConv(c.channels, c.upsampler, upsampler),
                            ReflectConv(3, 9, relu=False, rgb_from=c.channels))

    def hybrid_forward(self, F, x):
        out = self.layers((x - 0.5) * 2)
        if self.config.output == "tanh":
            return (F.tanh(out) + 1) * 0.5
        return out + 0.5

    def receptive_radius(self):
        """Input pixels an output pixel depends on, rounded up to the tile alignment."""
        c = self.config
        radius = 4 + 1 + 2                       # 9x9 conv, two stride-2 3x3 convs
        radius += c.num_blocks * 2 * 4           # two 3x3 convs per block at 1/4 resolution
        radius += 2 + 1 + 4                      # two upsampling convs, 9x9 output conv
        return -(-radius // ALIGN) * ALIGN
