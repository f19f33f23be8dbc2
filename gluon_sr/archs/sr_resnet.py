"""Residual super-resolution networks: the seed's Gluon net and Johnson et al.'s (Table 2).

Both work in low-resolution space and upsample at the end with learned x2 stages, so almost all
computation happens on the small image. Inputs and outputs are RGB floats in 0..1.
"""
import math
from dataclasses import dataclass

from mxnet.gluon import HybridBlock, nn

from .layers import FewChannelConv2D, conv, make_norm

UPSAMPLERS = ("deconv", "pixelshuffle", "subpixel")
BLOCKS = ("seed", "johnson")
OUTPUTS = ("linear", "tanh")
SKIPS = ("none", "nearest")


@dataclass
class SRResNetConfig:
    """Everything needed to rebuild an SR net; saved as JSON beside its params.

    block: 'seed' = conv-norm-ReLU x2 plus a 1x1 conv shortcut, ReLU after the sum (seed 002);
           'johnson' = conv-norm-ReLU-conv-norm plus identity, no ReLU after the sum
           (Gross & Wilber, as in Johnson et al.); with norm='none' this is EDSR's block.
    head_act: norm + ReLU after the 9x9 input conv (Johnson) or a plain conv (seed).
    output: 'tanh' = Johnson's scaled tanh into 0..1; 'linear' = unbounded (clipped at inference).
    upsampler: 'deconv' / 'pixelshuffle' = log2(scale) learned x2 stages, then the tail conv
           at output resolution; 'subpixel' = the tail conv runs at input resolution with
           3*scale^2 outputs, rearranged by depth_to_space (ESPCN): far cheaper on a CPU.
    global_skip: 'nearest' adds the nearest-upsampled input, so the body learns a residual.
    long_skip: add the head's features to the body's output (EDSR).
    res_scale: multiplier on each residual branch (EDSR uses 0.1 for deep no-norm bodies).
    """
    scale: int = 4
    channels: int = 64
    num_blocks: int = 4
    norm: str = "batch"
    block: str = "seed"
    upsampler: str = "deconv"
    head_act: bool = False
    output: str = "linear"
    global_skip: str = "none"
    long_skip: bool = False
    res_scale: float = 1.0
    head_kernel: int = 9
    tail_kernel: int = 9

    def validate(self):
        if self.scale not in (2, 4, 8):
            raise ValueError(f"scale must be 2, 4 or 8, got {self.scale}")
        if self.head_kernel % 2 == 0 or self.tail_kernel % 2 == 0:
            raise ValueError("head_kernel and tail_kernel must be odd")
        if self.channels < 1 or self.num_blocks < 0:
            raise ValueError("channels must be >= 1 and num_blocks >= 0")
        for name, value, allowed in (("upsampler", self.upsampler, UPSAMPLERS),
                                     ("block", self.block, BLOCKS),
                                     ("output", self.output, OUTPUTS),
                                     ("global_skip", self.global_skip, SKIPS)):
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}; expected one of {allowed}")
        make_norm(self.norm)


class ResidualUnit(HybridBlock):
    """Two 3x3 convs with a shortcut; see SRResNetConfig.block for the two variants."""

    def __init__(self, channels, block, norm, res_scale=1.0, **kwargs):
        super().__init__(**kwargs)
        use_bias = norm == "none"
        self.res_scale = res_scale
        self.post_relu = block == "seed"
        with self.name_scope():
            self.body = nn.HybridSequential()
            self.body.add(conv(channels, 3, use_bias=use_bias))
            if make_norm(norm) is not None:
                self.body.add(make_norm(norm))
            self.body.add(nn.Activation("relu"))
            self.body.add(conv(channels, 3, use_bias=use_bias))
            if make_norm(norm) is not None:
                self.body.add(make_norm(norm))
            if block == "seed":
                # The seed's second conv is followed by norm + ReLU before the sum.
                self.body.add(nn.Activation("relu"))
                self.shortcut = nn.Conv2D(channels, 1, use_bias=False)
            else:
                self.shortcut = None

    def hybrid_forward(self, F, x):
        branch = self.body(x)
        if self.res_scale != 1.0:
            branch = branch * self.res_scale
        skip = self.shortcut(x) if self.shortcut is not None else x
        out = branch + skip
        return F.relu(out) if self.post_relu else out


class UpsampleX2(HybridBlock):
    """One learned x2 upsampling stage: transposed conv or conv + pixel shuffle, then norm, ReLU."""

    def __init__(self, channels, kind, norm, **kwargs):
        super().__init__(**kwargs)
        self.kind = kind
        use_bias = norm == "none"
        with self.name_scope():
            if kind == "deconv":
                self.up = nn.Conv2DTranspose(channels, 3, strides=2, padding=1, output_padding=1,
                                             use_bias=use_bias)
            else:
                self.up = conv(channels * 4, 3, use_bias=use_bias)
            self.norm = make_norm(norm)

    def hybrid_forward(self, F, x):
        x = self.up(x)
        if self.kind == "pixelshuffle":
            x = F.depth_to_space(x, 2)
        if self.norm is not None:
            x = self.norm(x)
        return F.relu(x)


class SRResNet(HybridBlock):
    """Conv in (9x9), residual units, learned upsampling, conv out (9x9); see SRResNetConfig."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        config.validate()
        self.config = config
        c = config
        use_bias = c.norm == "none" or not c.head_act
        with self.name_scope():
            self.head = nn.HybridSequential()
            self.head.add(conv(c.channels, c.head_kernel, use_bias=use_bias))
            if c.head_act:
                if make_norm(c.norm) is not None:
                    self.head.add(make_norm(c.norm))
                self.head.add(nn.Activation("relu"))
            self.body = nn.HybridSequential()
            for _ in range(c.num_blocks):
                self.body.add(ResidualUnit(c.channels, c.block, c.norm, c.res_scale))
            self.upsample = nn.HybridSequential()
            if c.upsampler == "subpixel":
                self.tail = conv(3 * c.scale ** 2, c.tail_kernel)
            else:
                for _ in range(int(math.log2(c.scale))):
                    self.upsample.add(UpsampleX2(c.channels, c.upsampler, c.norm))
                self.tail = FewChannelConv2D(3, c.tail_kernel, in_channels=c.channels)

    def hybrid_forward(self, F, x):
        c = self.config
        head = self.head(x - 0.5)
        feat = self.body(head)
        if c.long_skip:
            feat = feat + head
        out = self.tail(self.upsample(feat))
        if c.upsampler == "subpixel":
            out = F.depth_to_space(out, c.scale)
        if c.output == "tanh":
            out = (F.tanh(out) + 1) * 0.5
        else:
            out = out + 0.5
        if c.global_skip == "nearest":
            out = out + F.UpSampling(x, scale=c.scale, sample_type="nearest")
            out = out - 0.5
        return out

    def receptive_radius(self):
        """How far (in input pixels) an output pixel sees: the overlap tiled inference needs."""
        c = self.config
        radius = c.head_kernel // 2 + 2 * c.num_blocks     # head, two 3x3 convs per unit
        if c.upsampler == "subpixel":
            radius += c.tail_kernel // 2                    # tail at input resolution
        else:
            for stage in range(int(math.log2(c.scale))):
                radius += 1 / 2 ** stage       # one 3x3 conv per stage, at growing resolution
            radius += (c.tail_kernel // 2) / c.scale        # tail at output resolution
        return int(math.ceil(radius)) + 1
