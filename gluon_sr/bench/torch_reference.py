"""The same networks in PyTorch (eager, fp32), as the speed reference for gluon_sr.bench.

Bench-only: imports torch, never mxnet (the two run in separate processes, see bench.py).
Weights come as arrays in Gluon's parameter order, so both frameworks compute the same
function on the same weights (bench checks their outputs agree).
"""
import numpy as np
import torch
from torch import nn

from gluon_sr.vgg_spec import BLOCKS, CONVENTIONS, TAPS


def depth_to_space(x, block):
    """MXNet's depth_to_space (DCR order), which differs from torch's PixelShuffle (CRD)."""
    n, c, h, w = x.shape
    x = x.view(n, block, block, c // block ** 2, h, w).permute(0, 3, 4, 1, 5, 2)
    return x.reshape(n, c // block ** 2, h * block, w * block)


def _conv(cin, cout, kernel, bias=True):
    return nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=bias)


class ResidualUnit(nn.Module):
    def __init__(self, channels, res_scale):
        super().__init__()
        self.conv0, self.conv1 = _conv(channels, channels, 3), _conv(channels, channels, 3)
        self.res_scale = res_scale

    def forward(self, x):
        return x + self.res_scale * self.conv1(torch.relu(self.conv0(x)))


class EDSR(nn.Module):
    """gluon_sr.archs SRResNet with the `edsr` preset's structure (no norm, sub-pixel)."""

    def __init__(self, config):
        super().__init__()
        c = config
        unsupported = {k: v for k, v in (("norm", c["norm"]), ("upsampler", c["upsampler"]),
                                         ("block", c["block"]), ("output", c["output"]),
                                         ("global_skip", c["global_skip"]))
                       if v != {"norm": "none", "upsampler": "subpixel", "block": "johnson",
                                "output": "linear", "global_skip": "none"}[k]}
        if unsupported or c["head_act"]:
            raise NotImplementedError(f"no PyTorch reference for {unsupported or 'head_act'}")
        self.scale, self.long_skip = c["scale"], c["long_skip"]
        self.head = _conv(3, c["channels"], c["head_kernel"])
        self.body = nn.Sequential(*[ResidualUnit(c["channels"], c["res_scale"])
                                    for _ in range(c["num_blocks"])])
        self.tail = _conv(c["channels"], 3 * c["scale"] ** 2, c["tail_kernel"])

    def forward(self, x):
        head = self.head(x - 0.5)
        feat = self.body(head)
        if self.long_skip:
            feat = feat + head
        return depth_to_space(self.tail(feat), self.scale) + 0.5


class ReflectConv(nn.Module):
    """Reflection padding + conv (+ instance norm + ReLU), as gluon_sr's ReflectConv."""

    def __init__(self, cin, cout, kernel, stride=1, norm=True, relu=True):
        super().__init__()
        self.pad = nn.ReflectionPad2d(kernel // 2)
        self.conv = nn.Conv2d(cin, cout, kernel, stride, bias=not norm)
        self.norm = nn.InstanceNorm2d(cout, affine=True) if norm else None
        self.relu = relu

    def forward(self, x):
        x = self.conv(self.pad(x))
        if self.norm is not None:
            x = self.norm(x)
        return torch.relu(x) if self.relu else x


class StyleBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = ReflectConv(channels, channels, 3)
        self.conv2 = ReflectConv(channels, channels, 3, relu=False)

    def forward(self, x):
        return x + self.conv2(self.conv1(x))


class TransformNet(nn.Module):
    """gluon_sr.archs TransformNet (Johnson et al.; pytorch/examples' TransformerNet has the
    same layers) with the resize upsampler and tanh output."""

    def __init__(self, config):
        super().__init__()
        c = config
        every_stage = ["encoder", "body", "upsampler"]
        if ((c["norm"], c["upsampler"], c["output"]) != ("instance", "resize", "tanh")
                or list(c.get("norm_stages", every_stage)) != every_stage):
            raise NotImplementedError(f"no PyTorch reference for {c}")
        w = c["channels"]
        self.head = nn.Sequential(ReflectConv(3, w, 9), ReflectConv(w, 2 * w, 3, 2),
                                  ReflectConv(2 * w, 4 * w, 3, 2))
        self.body = nn.Sequential(*[StyleBlock(4 * w) for _ in range(c["num_blocks"])])
        self.up1, self.up2 = ReflectConv(4 * w, 2 * w, 3), ReflectConv(2 * w, w, 3)
        self.tail = ReflectConv(w, 3, 9, norm=False, relu=False)

    def forward(self, x):
        x = self.body(self.head((x - 0.5) * 2))
        x = self.up1(nn.functional.interpolate(x, scale_factor=2, mode="nearest"))
        x = self.up2(nn.functional.interpolate(x, scale_factor=2, mode="nearest"))
        return (torch.tanh(self.tail(x)) + 1) * 0.5


def reference_net(meta):
    """The PyTorch twin of a gluon-sr network described by `meta` (NotImplementedError if none)."""
    return {"edsr": EDSR, "transform_net": TransformNet}.get(meta["arch"], _none)(meta["config"])


def _none(config):
    raise NotImplementedError("no PyTorch reference for this architecture")


class VGGFeatures(nn.Module):
    """VGG16 up to one tap, with the caffe weights' own input preprocessing."""

    def __init__(self, tap="relu2_2"):
        super().__init__()
        layers, cin = [], 3
        for num_convs, channels in BLOCKS:
            for _ in range(num_convs):
                layers += [nn.Conv2d(cin, channels, 3, padding=1), nn.ReLU()]
                cin = channels
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers[:TAPS[tap] + 1])
        conv = CONVENTIONS["caffe"]
        self.register_buffer("gain", torch.tensor(conv["scale"] / np.array(conv["std"]),
                                                  dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("offset", torch.tensor(-np.array(conv["mean"]) / np.array(conv["std"]),
                                                    dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x):
        return self.features(x * self.gain + self.offset)


def load_arrays(module, arrays):
    """Copy arrays (Gluon parameter order) into the module's parameters (same order)."""
    params = list(module.parameters())
    if len(params) != len(arrays):
        raise ValueError(f"{len(arrays)} arrays for {len(params)} parameters")
    with torch.no_grad():
        for p, a in zip(params, arrays):
            if tuple(p.shape) != tuple(a.shape):
                raise ValueError(f"shape {a.shape} for a parameter of shape {tuple(p.shape)}")
            p.copy_(torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)))
    return module
