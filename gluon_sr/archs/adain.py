"""Arbitrary style transfer (Huang & Belongie 2017, seed 003): adaptive instance normalisation
of VGG16 relu4_1 features and a decoder that mirrors the encoder.

The encoder is the frozen VGG16 loss network cut at relu4_1 (archs/vgg.py), loaded from the
user's VGG16 weights at run time like every VGG use here, so it is not part of the saved
model; the decoder is. AdaIN gives the content features the style features' per-channel mean
and standard deviation; the decoder turns the result back into an image.
"""
from dataclasses import dataclass

from mxnet.gluon import HybridBlock, nn

EPS = 1e-5
ENCODER_TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
# VGG16 to relu4_1 sees 33 px to each side: two 3x3 convs at full resolution, two at 1/2, three
# at 1/4, one at 1/8, plus the poolings.
ENCODER_RADIUS = 33
# The decoder's three x2 nearest upsamplings repeat every 8 output pixels: a grid it may lay
# has this period.
GRID_PERIOD = 8


def channel_mean_std(F, x):
    """Per-sample, per-channel mean and standard deviation over H, W: (N, C, 1, 1) each."""
    mean = F.mean(x, axis=(2, 3), keepdims=True)
    var = F.mean(F.square(F.broadcast_sub(x, mean)), axis=(2, 3), keepdims=True)
    return mean, F.sqrt(var + EPS)


def adain(F, content, style_mean, style_std):
    """AdaIN(x, y) = sigma(y) (x - mu(x)) / sigma(x) + mu(y), statistics per channel."""
    mean, std = channel_mean_std(F, content)
    normalised = F.broadcast_div(F.broadcast_sub(content, mean), std)
    return F.broadcast_add(F.broadcast_mul(normalised, style_std), style_mean)


@dataclass
class AdaINDecoderConfig:
    """The decoder mirrors VGG16 up to relu4_1, block by block: one conv back from 512 to 256
    channels, x2 nearest upsampling, then VGG16's block 3 mirrored (three convs, 256 -> 256 ->
    256 -> 128; VGG19's decoder has four there), up, block 2 (128 -> 128 -> 64), up, block 1
    (64 -> 64 -> 3). Reflection padding, ReLU after every conv but the last, no
    normalisation (Huang & Belongie). `width` scales every hidden channel count."""
    width: float = 1.0

    def validate(self):
        if not 0 < self.width <= 1:
            raise ValueError(f"width must be in (0, 1], got {self.width}")

    def layers(self):
        """[(out channels, upsample after)] of the convs in order; the last outputs RGB."""
        c = lambda n: max(int(round(n * self.width)), 8)      # noqa: E731
        return [(c(256), True), (c(256), False), (c(256), False), (c(128), True),
                (c(128), False), (c(64), True), (c(64), False), (3, False)]


class AdaINDecoder(HybridBlock):
    """relu4_1 features (N, 512, H/8, W/8) -> RGB (N, 3, H, W), roughly 0..1 (unclipped).

    `input_scale` (no gradient, saved with the weights) multiplies the relu4_1 input per
    channel before the first conv; training sets it to 1 / the layer's mean activation on
    its images, so the caffe-scale VGG16 features arrive at the scale of the "normalised"
    VGG the original AdaIN uses, without touching its weights. AdaIN commutes with a
    per-channel scale, so the decoder may take raw relu4_1 statistics and apply it itself."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        config.validate()
        self.config = config
        self._plan = config.layers()
        with self.name_scope():
            self.input_scale = self.params.get("input_scale", shape=(1, 512, 1, 1), init="ones",
                                               grad_req="null")
            self.convs = nn.HybridSequential(prefix="")
            in_channels = 512
            for channels, _ in self._plan:
                self.convs.add(nn.Conv2D(channels, 3, in_channels=in_channels))
                in_channels = channels

    def hybrid_forward(self, F, x, input_scale):
        x = F.broadcast_mul(x, input_scale)
        last = len(self._plan) - 1
        for i, (conv, (_, upsample)) in enumerate(zip(self.convs, self._plan)):
            x = conv(F.pad(x, mode="reflect", pad_width=(0, 0, 0, 0, 1, 1, 1, 1)))
            if i < last:
                x = F.relu(x)
            if upsample:
                x = F.UpSampling(x, scale=2, sample_type="nearest")
        return x

    def narrowed_from(self, wider):
        """Take the weights of `wider`, a trained decoder of greater width, keeping in each
        hidden layer its strongest channels: those whose incoming filter and outgoing weights
        have the largest product of L1 norms (a channel either weakly driven or weakly read
        matters little). A start for distilling `wider` into this decoder."""
        import numpy as np
        from mxnet import nd

        weights = [(conv.weight.data().asnumpy(), conv.bias.data().asnumpy())
                   for conv in wider.convs]
        if len(weights) != len(self._plan) or any(
                w.shape[0] < c for (w, _), (c, _) in zip(weights, self._plan)):
            raise ValueError("narrowed_from takes a decoder at least as wide as this one")
        keep_in = np.arange(weights[0][0].shape[1])      # every relu4_1 channel
        for i, (conv, (channels, _)) in enumerate(zip(self.convs, self._plan)):
            w, b = weights[i]
            w = w[:, keep_in]
            if i < len(self._plan) - 1:
                strength = np.abs(w).sum(axis=(1, 2, 3)) * \
                    np.abs(weights[i + 1][0]).sum(axis=(0, 2, 3))
                keep_out = np.sort(np.argsort(-strength)[:channels])
            else:
                keep_out = np.arange(w.shape[0])
            conv.weight.set_data(nd.array(w[keep_out]))
            conv.bias.set_data(nd.array(b[keep_out]))
            keep_in = keep_out
        self.input_scale.set_data(wider.input_scale.data())

    def receptive_radius(self):
        # 3x3 convs at 1/8 (one), 1/4 (three), 1/2 (two) and full resolution (two).
        return 8 * 1 + 4 * 3 + 2 * 2 + 2
