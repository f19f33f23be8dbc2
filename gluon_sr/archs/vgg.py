"""Truncated, frozen ImageNet VGG16 used as the perceptual loss network.

Layer indices follow `mxnet.gluon.model_zoo.vision.vgg16().features`, so weights load by
structural name ("0.weight", "2.weight", ...) both from the converted Caffe file and from the
model zoo. The net takes RGB floats in 0..1 and does its own input preprocessing, which differs
between the two weight sources (see CONVENTIONS).
"""
import os

import numpy as np
from mxnet import gluon, nd
from mxnet.gluon import nn

from gluon_sr.utils.errors import GluonSRError, describe
from gluon_sr.vgg_spec import BLOCKS, CONVENTIONS, TAPS

ENV_WEIGHTS = "GLUON_SR_VGG16"


def _layers_until(last_index):
    """vgg16().features layers 0..last_index with the model zoo's layer order."""
    layers = []
    for num_convs, channels in BLOCKS:
        for _ in range(num_convs):
            layers.append(nn.Conv2D(channels, 3, padding=1))
            layers.append(nn.Activation("relu"))
        layers.append(nn.MaxPool2D(strides=2))
    return layers[:last_index + 1]


class LossVGG16(gluon.HybridBlock):
    """VGG16 cut after the deepest requested tap.

    Returns a dict {tap name: activation}, also for a single tap, so callers index by name.
    """

    def __init__(self, taps=("relu2_2",), convention="caffe", **kwargs):
        super().__init__(**kwargs)
        unknown = [t for t in taps if t not in TAPS]
        if unknown:
            raise GluonSRError(f"unknown VGG16 layer(s) {unknown}; choose from {list(TAPS)}")
        if convention not in CONVENTIONS:
            raise GluonSRError(f"unknown VGG convention {convention!r}")
        self.taps = tuple(sorted(set(taps), key=TAPS.get))     # in forward order, once each
        self.convention = convention
        self._tap_indices = [TAPS[t] for t in self.taps]
        conv = CONVENTIONS[convention]
        mean = np.array(conv["mean"], dtype=np.float32).reshape(1, 3, 1, 1)
        std = np.array(conv["std"], dtype=np.float32).reshape(1, 3, 1, 1)
        with self.name_scope():
            # Preprocessing as a constant affine map: x * gain + offset.
            self.gain = self.params.get_constant("gain", nd.array(conv["scale"] / std))
            self.offset = self.params.get_constant("offset", nd.array(-mean / std))
            self.features = nn.HybridSequential(prefix="")
            for layer in _layers_until(max(self._tap_indices)):
                self.features.add(layer)

    def hybrid_forward(self, F, x, gain, offset):
        h = F.broadcast_add(F.broadcast_mul(x, gain), offset)
        outputs = []
        for index, layer in enumerate(self.features):
            h = layer(h)
            if index in self._tap_indices:
                outputs.append(h)
        return tuple(outputs)

    def __call__(self, x):
        # Hybridized blocks can only return (nested) lists of arrays; the dict is made here.
        outputs = super().__call__(x)
        if not isinstance(outputs, (list, tuple)):
            outputs = (outputs,)
        return dict(zip(self.taps, outputs))

    def freeze(self):
        for p in self.collect_params().values():
            p.grad_req = "null"
        return self


def load_loss_vgg(taps=("relu2_2",), weights=None, ctx=None, zoo_root=None):
    """Build a frozen LossVGG16 with real ImageNet weights.

    weights: path to the converted Caffe VGG16 features file; defaults to $GLUON_SR_VGG16. With
    neither, the model zoo's vgg16(pretrained=True) is downloaded (needs internet) and its
    own input convention is used. Returns (net, source) where source says which was used.
    """
    import mxnet as mx

    ctx = ctx or [mx.cpu()]
    weights = weights or os.environ.get(ENV_WEIGHTS) or None
    if weights:
        if not os.path.isfile(weights):
            raise GluonSRError(f"{weights}: VGG16 weights file not found")
        net = LossVGG16(taps, convention="caffe")
        net.initialize(ctx=ctx)
        try:
            net.features.load_parameters(weights, ctx=ctx, ignore_extra=True)
        except Exception as e:  # MXNet raises bare AssertionError/MXNetError on bad files
            raise GluonSRError(f"{weights}: not a usable VGG16 features file ({describe(e)})")
        source = {"convention": "caffe", "weights": os.path.basename(weights)}
    else:
        from mxnet.gluon.model_zoo import vision

        try:
            zoo = vision.vgg16(pretrained=True, ctx=ctx[0], **({"root": zoo_root} if zoo_root else {}))
        except Exception as e:
            raise GluonSRError(
                "no VGG16 weights: pass --vgg PATH or set GLUON_SR_VGG16 "
                f"(model zoo download failed: {describe(e)})")
        net = LossVGG16(taps, convention="modelzoo")
        net.initialize(ctx=ctx)
        for index, layer in enumerate(net.features):
            if isinstance(layer, nn.Conv2D):
                layer.weight.set_data(zoo.features[index].weight.data())
                layer.bias.set_data(zoo.features[index].bias.data())
        source = {"convention": "modelzoo", "weights": "model_zoo:vgg16"}
    net.freeze()
    return net, source

