"""Gatys et al.'s neural style transfer by optimising the pixels (seeds 003/004).

The image starts from the content photo and is optimised to match the content's VGG16 features
at one layer and the style image's Gram matrices at several layers. L-BFGS (through scipy, with
pixel bounds 0..1) converges in a few hundred iterations; Adam is there for comparison.
"""
import time

import numpy as np

from .errors import GluonSRError
from .losses import feature_loss, gram_matrix, style_loss, tv_loss

STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
# Style weight against content weight 1 (relu2_2), with the normalisations of losses.py.
# Measured on mosaic (128 px crops, 800 steps): 5 (Johnson et al.'s code) and 1 wiped the
# content out; 0.3 keeps it while the colours and strokes come through. Paintings with weaker
# Gram statistics (the scream, udnie) need about 1.
STYLE_WEIGHT = 0.3


class StyleObjective:
    """Content + style + TV loss of an image, with its gradient; the targets are fixed."""

    def __init__(self, vgg, content, style, content_layer="relu2_2", style_layers=STYLE_LAYERS,
                 content_weight=1.0, style_weight=STYLE_WEIGHT, tv_weight=0.0, tv_kind="l2",
                 ctx=None):
        import mxnet as mx

        self.ctx = ctx or mx.cpu()
        self.vgg = vgg
        taps = list(vgg.taps)
        missing = [t for t in (content_layer, *style_layers) if t not in taps]
        if missing:
            raise GluonSRError(f"the VGG loss net lacks the layers {missing}")
        self.content_index = taps.index(content_layer)
        self.style_indices = [taps.index(t) for t in style_layers]
        self.weights = (content_weight, style_weight, tv_weight)
        self.tv_kind = tv_kind
        feats = self._features(self._nd(content))
        self.content_target = feats[self.content_index]
        style_feats = self._features(self._nd(style))
        self.style_targets = [gram_matrix(mx.nd, style_feats[i]) for i in self.style_indices]

    def _nd(self, img):
        import mxnet as mx

        return mx.nd.array(np.asarray(img, np.float32).transpose(2, 0, 1)[None], ctx=self.ctx)

    def _features(self, x):
        out = self.vgg(x)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def parts(self, x):
        """(content, style, tv) weighted losses of an NCHW NDArray, each shaped (N,)."""
        from mxnet import nd

        wc, ws, wt = self.weights
        feats = self._features(x)
        content = wc * feature_loss(nd, feats[self.content_index], self.content_target)
        style = ws * sum(style_loss(nd, feats[i], g)
                         for i, g in zip(self.style_indices, self.style_targets))
        tv = wt * tv_loss(nd, x, self.tv_kind)
        return content, style, tv

    def value_and_grad(self, img_chw):
        from mxnet import autograd

        x = img_chw.copy()
        x.attach_grad()
        with autograd.record():
            content, style, tv = self.parts(x)
            total = content + style + tv
        total.backward()
        return float(total.asscalar()), x.grad, (float(content.asscalar()),
                                                 float(style.asscalar()), float(tv.asscalar()))


def optimise(objective, init, iters=300, optimizer="lbfgs", lr=0.02, log_every=50, log=print):
    """Optimise the pixels from `init` (HxWx3 in 0..1). Returns (image, per-iteration losses)."""
    import mxnet as mx

    shape = (1, 3) + init.shape[:2]
    history = []
    start = time.perf_counter()

    def record(value, parts):
        history.append({"iter": len(history) + 1, "loss": value, "content": parts[0],
                        "style": parts[1], "tv": parts[2],
                        "seconds": round(time.perf_counter() - start, 3)})
        if log and (len(history) % log_every == 0 or len(history) == 1):
            log(f"iter {len(history):4d}  loss {value:.5g}  (content {parts[0]:.4g}, "
                f"style {parts[1]:.4g}, tv {parts[2]:.4g})")

    x0 = np.asarray(init, np.float32).transpose(2, 0, 1)[None]
    if optimizer == "lbfgs":
        from scipy.optimize import minimize

        def fun(flat):
            value, grad, parts = objective.value_and_grad(
                mx.nd.array(flat.reshape(shape), ctx=objective.ctx))
            fun.last = (value, parts)
            return value, grad.asnumpy().astype(np.float64).ravel()

        def callback(_):
            record(*fun.last)
        result = minimize(fun, x0.astype(np.float64).ravel(), jac=True, method="L-BFGS-B",
                          bounds=[(0.0, 1.0)] * x0.size, callback=callback,
                          options={"maxiter": iters, "maxcor": 20, "gtol": 0, "ftol": 0})
        out = result.x.reshape(shape)
    elif optimizer == "adam":
        x = mx.nd.array(x0, ctx=objective.ctx)
        adam = mx.optimizer.Adam(learning_rate=lr)
        state = adam.create_state(0, x)
        for _ in range(iters):
            value, grad, parts = objective.value_and_grad(x)
            adam.update(0, x, grad, state)
            x = mx.nd.clip(x, 0, 1)
            record(value, parts)
        out = x.asnumpy()
    else:
        raise GluonSRError(f"unknown optimizer {optimizer!r}; use lbfgs or adam")
    return np.clip(out[0].transpose(1, 2, 0), 0, 1).astype(np.float32), history
