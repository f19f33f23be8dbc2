"""One way to load a trained model for inference, whatever the backend and precision.

`load_for_inference(name, backend, precision, ctx)` returns an `InferenceModel`: the model's
description (task, scale, config), what tiling needs (receptive radius, alignment) and a
`forward(nchw)` on numpy arrays. infer.py, evaluate, the gallery and the benches all load
through it, so they run (and time) the same thing.

    backend mxnet, fp32    hybridized and oneDNN-fused (CPU) or hybridized (GPU)
    backend mxnet, bf16    MXNet AMP (CPUs with AVX-512 bf16 support)
    backend mxnet, int8    oneDNN post-training quantisation
    backend onnxruntime    an exported model (python -m gluon_sr.deploy.export), no MXNet

Nothing here imports MXNet at module level: the ONNX Runtime environment imports this module.
"""
from types import SimpleNamespace

import numpy as np

from gluon_sr.utils.errors import GluonSRError

BACKENDS = ("mxnet", "onnxruntime")
PRECISIONS = ("fp32", "bf16", "int8")


def inference_defaults(meta):
    """How a model runs unless told otherwise.

    SR models trained with a VGG feature loss drift in colour (seed 002), so they get its
    histogram-matching post-process by default; a sidecar's "inference" entry overrides that.
    """
    trained_perceptual = (meta.get("task", "sr") == "sr"
                          and float(meta.get("training", {}).get("feat_weight", 0)) > 0)
    hist_match = meta.get("inference", {}).get("hist_match", trained_perceptual)
    if not isinstance(hist_match, bool):
        raise ValueError(f"inference.hist_match is {hist_match!r}, not true or false")
    return {"hist_match": hist_match}


class InferenceModel:
    """A trained network ready to run on numpy arrays, with what the tiling code needs."""

    def __init__(self, name, meta, run, receptive_radius, align, backend, precision,
                 reload_gluon=None):
        self.name, self.meta = name, meta
        self.backend, self.precision = backend, precision
        try:
            self.task = meta.get("task", "sr")
            self.config = SimpleNamespace(**meta.get("config", {}))
            self.scale = int(meta["config"].get("scale", 1)) if self.task == "sr" else 1
            self.defaults = inference_defaults(meta)
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            raise GluonSRError(f"{name}: corrupt model description ({type(e).__name__}: {e})")
        if self.task not in ("sr", "style"):
            raise GluonSRError(f"{name}: corrupt model description (unknown task {self.task!r})")
        self.receptive_radius = receptive_radius
        self.align = align
        self._run = run
        self._reload_gluon = reload_gluon
        self._gluon = None

    def forward(self, nchw):
        """(N, 3, H, W) float32 in 0..1 -> the network's output, a float32 numpy array."""
        return self._run(np.ascontiguousarray(nchw, dtype=np.float32))

    def imperative_net(self):
        """The fp32 Gluon network, not hybridized, loaded on first use (MXNet backend only).

        Exact tiling of instance-norm networks switches the normalisation statistics layer by
        layer, which only an imperative network can do; the fast path stays untouched.
        """
        if self._reload_gluon is None:
            return None
        if self._gluon is None:
            self._gluon = self._reload_gluon()
        return self._gluon

    def describe(self):
        return f"{self.name} ({self.backend}, {self.precision})"

    @classmethod
    def from_gluon(cls, net, meta=None, ctx=None, name="network"):
        """A Gluon network in memory (one being trained, say), run as it is."""
        import mxnet as mx

        from gluon_sr.archs import model_spec

        ctx = ctx or mx.cpu()
        meta = {**model_spec(net), "task": "style" if hasattr(net, "align") else "sr",
                **(meta or {})}

        def run(nchw):
            return net(mx.nd.array(nchw, ctx=ctx)).asnumpy()

        return cls(name, meta, run, net.receptive_radius(), getattr(net, "align", 1),
                   "mxnet", "fp32", reload_gluon=lambda: net)


def load_for_inference(name, backend="mxnet", precision="fp32", ctx=None):
    """Load model `name` (a name in params/, a NAME.json path, or for onnxruntime an .onnx
    path or an exported name) for inference. ctx: an mx.Context for the MXNet backend."""
    if backend not in BACKENDS:
        raise GluonSRError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if precision not in PRECISIONS:
        raise GluonSRError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    if backend == "onnxruntime":
        if precision != "fp32":
            raise GluonSRError("--precision bf16/int8 are MXNet (oneDNN) paths; the ONNX "
                               "Runtime backend runs fp32")
        from gluon_sr.deploy.onnx_backend import OnnxModel

        model = OnnxModel(name)
        return InferenceModel(name, model.meta, model.run_numpy, model.receptive_radius(),
                              model.align, backend, precision)
    return _load_mxnet(name, precision, ctx)


def _load_mxnet(name, precision, ctx):
    import mxnet as mx

    from gluon_sr.deploy.precision import convert
    from gluon_sr.model_store import load_model

    ctx = ctx or mx.cpu()
    net, meta = load_model(name, ctx=ctx)
    radius, align = net.receptive_radius(), getattr(net, "align", 1)
    if ctx.device_type == "gpu":
        if precision != "fp32":
            raise GluonSRError("--precision bf16/int8 are CPU (oneDNN) paths; drop --gpu")
        net.hybridize(static_alloc=True)
        fast = net
    else:
        fast = convert(net, precision)

    def run(nchw):
        return fast(mx.nd.array(nchw, ctx=ctx)).asnumpy()

    def reload_gluon():
        return load_model(name, ctx=ctx)[0]

    return InferenceModel(name, meta, run, radius, align, "mxnet", precision, reload_gluon)
