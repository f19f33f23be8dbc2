"""Small building blocks shared by the SR and style networks."""
from mxnet.gluon import HybridBlock, nn

NORMS = ("batch", "instance", "none")


def make_norm(kind):
    """A normalisation layer by name, or None for 'none'."""
    if kind == "batch":
        return nn.BatchNorm(momentum=0.9)
    if kind == "instance":
        return nn.InstanceNorm()
    if kind == "none":
        return None
    raise ValueError(f"unknown norm {kind!r}; expected one of {NORMS}")


def conv(channels, kernel, stride=1, use_bias=True):
    """A 'same'-padded convolution (zero padding)."""
    return nn.Conv2D(channels, kernel, strides=stride, padding=kernel // 2, use_bias=use_bias)


class FewChannelConv2D(HybridBlock):
    """A 'same' conv with few output channels (e.g. RGB), computed as a 16-channel conv.

    MKLDNN's kernels are vectorised over output channels: a 9x9 conv 64->3 at 288x288 ran at
    16 GFLOP/s, and its backward pass 4x slower than a 64->16 conv. The weight stays (C, in,
    k, k), so params files are those of a plain conv; rows of zeros are appended at run time
    and the extra outputs are sliced away (they get no gradient).
    """

    def __init__(self, channels, kernel, in_channels, compute_channels=16, padding=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.channels, self.kernel = channels, kernel
        self.padding = kernel // 2 if padding is None else padding
        self.extra = max(0, compute_channels - channels)
        with self.name_scope():
            self.weight = self.params.get("weight", shape=(channels, in_channels, kernel, kernel))
            self.bias = self.params.get("bias", shape=(channels,), init="zeros")

    def hybrid_forward(self, F, x, weight, bias):
        if self.extra:
            copies = -(-self.extra // self.channels)
            zeros_w = F.slice_axis(F.tile(F.zeros_like(weight), reps=(copies, 1, 1, 1)),
                                   axis=0, begin=0, end=self.extra)
            zeros_b = F.slice_axis(F.tile(F.zeros_like(bias), reps=(copies,)),
                                   axis=0, begin=0, end=self.extra)
            weight = F.concat(weight, zeros_w, dim=0)
            bias = F.concat(bias, zeros_b, dim=0)
        out = F.Convolution(x, weight, bias, kernel=(self.kernel, self.kernel),
                            pad=(self.padding, self.padding),
                            num_filter=self.channels + self.extra)
        if self.extra:
            out = F.slice_axis(out, axis=1, begin=0, end=self.channels)
        return out
