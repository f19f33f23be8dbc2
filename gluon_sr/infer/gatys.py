"""Gatys et al.'s neural style transfer by optimising the pixels (seeds 003/004).

The image starts from the content photo and is optimised to match the content's VGG16 features
at one layer and the style image's Gram matrices at several layers. L-BFGS (through scipy, with
pixel bounds 0..1) converges in a few hundred iterations; Adam is there for comparison.
"""
import os
import time

import numpy as np

from gluon_sr.archs.vgg import load_loss_vgg
from gluon_sr.losses import (CONTENT_LAYER, STYLE_LAYERS, STYLE_WEIGHT, feature_loss,
                             gram_matrix, style_loss, tv_loss)
from gluon_sr.infer.stylize import finish, working_alpha, working_copy, working_size
from gluon_sr.utils.errors import GluonSRError
from gluon_sr.utils.imageio import read_image
from gluon_sr.vgg_spec import CONVENTIONS

STARTS = ("photo", "noise")


class StyleObjective:
    """Content + style + TV loss of an image, with its gradient; the targets are fixed."""

    def __init__(self, vgg, content, style, content_layer=CONTENT_LAYER, style_layers=STYLE_LAYERS,
                 content_weight=1.0, style_weight=STYLE_WEIGHT, tv_weight=0.0, tv_kind="l2",
                 ctx=None):
        import mxnet as mx

        self.ctx = ctx or mx.cpu()
        self.vgg = vgg
        missing = [t for t in (content_layer, *style_layers) if t not in vgg.taps]
        if missing:
            raise GluonSRError(f"the VGG loss net lacks the layers {missing}")
        self.content_layer, self.style_layers = content_layer, tuple(style_layers)
        self.weights = (content_weight, style_weight, tv_weight)
        self.tv_kind = tv_kind
        self.content_target = vgg(self._nd(content))[content_layer]
        style_feats = vgg(self._nd(style))
        self.style_targets = [gram_matrix(mx.nd, style_feats[t]) for t in self.style_layers]

    def _nd(self, img):
        import mxnet as mx

        return mx.nd.array(np.asarray(img, np.float32).transpose(2, 0, 1)[None], ctx=self.ctx)

    def parts(self, x):
        """(content, style, tv) weighted losses of an NCHW NDArray, each shaped (N,)."""
        from mxnet import nd

        wc, ws, wt = self.weights
        feats = self.vgg(x)
        content = wc * feature_loss(nd, feats[self.content_layer], self.content_target)
        style = ws * sum(style_loss(nd, feats[t], g)
                         for t, g in zip(self.style_layers, self.style_targets))
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


def start_image(content, start="photo", seed=0):
    """Where the pixels start (HxWx3 in 0..1). "photo": the content photo itself. "noise":
    jcjohnson/neural-style's `-init random`, Gaussian noise of std 0.001 (in 0..255 units)
    about the ImageNet mean colour; Johnson et al. (ECCV 2016, section 5.1) started the Gatys
    baseline they measured their networks against from such white noise."""
    if start == "photo":
        return np.array(content, np.float32)
    if start != "noise":
        raise GluonSRError(f"unknown start {start!r}; use one of {STARTS}")
    mean = np.array(CONVENTIONS["caffe"]["mean"], np.float32)
    noise = np.random.default_rng(seed).normal(0.0, 0.001, np.shape(content))
    return np.clip((mean + noise) / 255.0, 0, 1).astype(np.float32)


def optimise(objective, init, iters=300, optimizer="lbfgs", lr=0.02, log_every=50, log=print,
             until=None):
    """Optimise the pixels from `init` (HxWx3 in 0..1). Returns (image, per-iteration losses).
    `until(record)`, given each iteration's record, returns True to stop there."""
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
        return bool(until and until(history[-1]))

    x0 = np.asarray(init, np.float32).transpose(2, 0, 1)[None]
    if optimizer == "lbfgs":
        from scipy.optimize import minimize

        def fun(flat):
            value, grad, parts = objective.value_and_grad(
                mx.nd.array(flat.reshape(shape), ctx=objective.ctx))
            fun.last = (value, parts)
            return value, grad.asnumpy().astype(np.float64).ravel()

        def callback(_):
            if record(*fun.last):
                raise StopIteration            # scipy >= 1.11 ends the run on this
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
            if record(value, parts):
                break
        out = x.asnumpy()
    else:
        raise GluonSRError(f"unknown optimizer {optimizer!r}; use lbfgs or adam")
    return np.clip(out[0].transpose(1, 2, 0), 0, 1).astype(np.float32), history


class GatysStylizer:
    """`infer.py --optimize`: each image optimised from itself towards a painting's style."""

    def __init__(self, style_image, iters=300, optimizer="lbfgs", content_weight=1.0,
                 style_weight=STYLE_WEIGHT, tv_weight=0.0, vgg_weights=None, size=0,
                 preserve_color=False, strength=1.0, ctx=None):
        self.ctx = ctx
        self.vgg, _ = load_loss_vgg((*STYLE_LAYERS, CONTENT_LAYER), weights=vgg_weights,
                                    ctx=[ctx] if ctx else None)
        self.style = working_copy(read_image(style_image).rgb, size)
        self.options = dict(content_weight=content_weight, style_weight=style_weight,
                            tv_weight=tv_weight)
        self.iters, self.optimizer, self.size = iters, optimizer, size
        self.preserve_color, self.strength = preserve_color, strength
        self.suffix = os.path.splitext(os.path.basename(style_image))[0] + "_gatys"

    def output_size(self, width, height):
        return working_size(width, height, self.size)

    def __call__(self, image):
        """Stylise a LoadedImage. Returns (rgb, alpha) at the working resolution."""
        content = working_copy(image.rgb, self.size)
        objective = StyleObjective(self.vgg, content, self.style, ctx=self.ctx, **self.options)
        out, _ = optimise(objective, content, iters=self.iters, optimizer=self.optimizer,
                          log_every=max(1, self.iters // 10))
        return finish(out, content, self.preserve_color, self.strength), \
            working_alpha(image, self.size)
