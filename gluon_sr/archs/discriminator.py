"""Discriminators for adversarial fine-tuning: PatchGAN (seed 001), pix2pixHD's multi-scale
stack of them (seed 000), SAGAN self-attention and spectral normalisation.

Every discriminator returns a list with one entry per scale; each entry is the list of that
PatchGAN's intermediate feature maps, its last element the patch logits (N, 1, h, w). The
intermediate maps feed pix2pixHD's feature-matching loss.
"""
from dataclasses import dataclass

from mxnet import init
from mxnet.gluon import HybridBlock, nn

NORMS = ("none", "instance", "spectral")


class SpectralNormConv2D(HybridBlock):
    """A Conv2D whose weight is divided by its largest singular value (Miyato et al. 2018).

    sigma is estimated as u^T W v from a running left singular vector `u`, a parameter without
    gradient, so it is saved and restored with the weights. The forward pass is a pure
    function of (W, u), which keeps the block hybridizable; `power_iteration()` advances `u`
    by one step and is called once per discriminator update (the usual one iteration per step).
    """

    def __init__(self, channels, in_channels, kernel, strides=1, padding=0, **kwargs):
        super().__init__(**kwargs)
        self._channels, self._kernel = channels, (kernel, kernel)
        self._strides, self._padding = (strides, strides), (padding, padding)
        with self.name_scope():
            self.weight = self.params.get("weight", shape=(channels, in_channels, kernel, kernel),
                                          init=init.Xavier(rnd_type="uniform", factor_type="in", magnitude=1))
            self.bias = self.params.get("bias", shape=(channels,), init="zeros")
            self.u = self.params.get("u", shape=(1, channels), init=init.Normal(1.0),
                                     grad_req="null")

    def hybrid_forward(self, F, x, weight, bias, u):
        w = F.reshape(weight, shape=(0, -1))                              # C_out, C_in k k
        # One power-iteration step from the stored u; u and v are constants of the step (as
        # in Miyato's and PyTorch's implementations), sigma keeps its gradient through W.
        v = F.BlockGrad(F.L2Normalization(F.dot(u, w)))                   # 1, C_in k k
        u_next = F.BlockGrad(F.L2Normalization(F.dot(v, w, transpose_b=True)))  # 1, C_out
        sigma = F.sum(F.dot(u_next, w) * v)
        w_sn = F.broadcast_div(weight, F.reshape(sigma, shape=(1, 1, 1, 1)))
        return F.Convolution(x, w_sn, bias, kernel=self._kernel, stride=self._strides,
                             pad=self._padding, num_filter=self._channels)

    def power_iteration(self):
        from mxnet import nd

        # Every device holds the same weight, so one device's result serves all.
        w = self.weight.data().reshape((0, -1))
        v = nd.L2Normalization(nd.dot(self.u.data(), w))
        self.u.set_data(nd.L2Normalization(nd.dot(v, w, transpose_b=True)))

    def sigma(self):
        """The current estimate of W's largest singular value (for tests and logs)."""
        from mxnet import nd

        w = self.weight.data().reshape((0, -1))
        v = nd.L2Normalization(nd.dot(self.u.data(), w))
        return float(nd.sum(nd.dot(nd.L2Normalization(nd.dot(v, w, transpose_b=True)), w) * v)
                     .asscalar())


class SelfAttention(HybridBlock):
    """SAGAN's self-attention (Zhang et al. 2019; seed 001's CSAM): every position attends to
    every other through 1x1 query/key (C/8 channels) and value projections; the result is
    added back scaled by gamma, which starts at 0 so the block begins as the identity."""

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        reduced = max(channels // 8, 1)
        with self.name_scope():
            self.query = nn.Conv2D(reduced, 1, in_channels=channels)
            self.key = nn.Conv2D(reduced, 1, in_channels=channels)
            self.value = nn.Conv2D(channels, 1, in_channels=channels)
            self.gamma = self.params.get("gamma", shape=(1,), init="zeros")

    def hybrid_forward(self, F, x, gamma):
        q = F.reshape(self.query(x), shape=(0, 0, -1))                  # N, C/8, HW
        k = F.reshape(self.key(x), shape=(0, 0, -1))                    # N, C/8, HW
        v = F.reshape(self.value(x), shape=(0, 0, -1))                  # N, C, HW
        attention = F.softmax(F.batch_dot(q, k, transpose_a=True), axis=-1)   # N, HW, HW
        out = F.batch_dot(v, attention, transpose_b=True)               # N, C, HW
        return x + F.broadcast_mul(gamma, F.reshape_like(out, x))


@dataclass
class PatchGANConfig:
    """pix2pix's PatchGAN: n_layers stride-2 4x4 convs (n_layers 3 = 70x70 receptive field),
    then a stride-1 conv and a 1-channel stride-1 conv, LeakyReLU(0.2) after each but the
    last; no norm on the first layer. num_d > 1 stacks pix2pixHD's multi-scale discriminator:
    the k-th PatchGAN sees the input average-pooled k times (3x3, stride 2).
    attention_at: insert SAGAN self-attention after this layer (0 = none)."""
    ndf: int = 64
    n_layers: int = 3
    norm: str = "spectral"
    num_d: int = 1
    attention_at: int = 0

    def validate(self):
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if self.ndf < 1 or self.n_layers < 1 or self.num_d < 1:
            raise ValueError("ndf, n_layers and num_d must be >= 1")
        if not 0 <= self.attention_at <= self.n_layers + 1:
            raise ValueError(f"attention_at must be in 0..{self.n_layers + 1}")

    def layer_channels(self):
        """(in, out, stride) of each conv, the last the 1-channel logits."""
        channels = [self.ndf * min(2 ** i, 8) for i in range(self.n_layers + 1)]
        layers = [(3, channels[0], 2)]
        layers += [(channels[i - 1], channels[i], 2) for i in range(1, self.n_layers)]
        layers += [(channels[self.n_layers - 1], channels[self.n_layers], 1),
                   (channels[self.n_layers], 1, 1)]
        return layers


def _conv(norm, in_channels, channels, stride):
    if norm == "spectral":
        return SpectralNormConv2D(channels, in_channels, 4, stride, 2)
    return nn.Conv2D(channels, 4, stride, 2, in_channels=in_channels)


class PatchGAN(HybridBlock):
    """One PatchGAN; returns [feature map after each layer ..., logits]."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.stages = []
        layers = config.layer_channels()
        with self.name_scope():
            for i, (cin, cout, stride) in enumerate(layers):
                stage = nn.HybridSequential(prefix=f"stage{i}_")
                with stage.name_scope():
                    stage.add(_conv(config.norm, cin, cout, stride))
                    if i < len(layers) - 1:
                        if config.norm == "instance" and i > 0:
                            stage.add(nn.InstanceNorm(in_channels=cout))
                        stage.add(nn.LeakyReLU(0.2))
                    if config.attention_at == i + 1 and i < len(layers) - 1:
                        stage.add(SelfAttention(cout))
                self.register_child(stage)
                self.stages.append(stage)

    def hybrid_forward(self, F, x):
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


class Discriminator(HybridBlock):
    """`num_d` PatchGANs on an average-pooled pyramid (pix2pixHD); num_d 1 is a PatchGAN."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        config.validate()
        self.config = config
        self.scales = []
        with self.name_scope():
            for k in range(config.num_d):
                d = PatchGAN(config, prefix=f"d{k}_")
                self.register_child(d)
                self.scales.append(d)

    def hybrid_forward(self, F, x):
        outputs = []
        for k, d in enumerate(self.scales):
            if k:
                x = F.Pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg",
                              count_include_pad=False)
            outputs.append(d(x))
        return outputs

    def power_iteration(self):
        """Advance the spectral norms' singular vectors; call once per D update."""
        for block in _walk(self):
            if isinstance(block, SpectralNormConv2D):
                block.power_iteration()


def _walk(block):
    yield block
    for child in block._children.values():
        yield from _walk(child)
