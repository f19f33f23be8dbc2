"""One way to load a trained model for inference, whatever the backend and precision.

`load_for_inference(name, backend, precision, ctx)` returns an `InferenceModel`: the model's
description (task, scale, config), what tiling needs (receptive radius, alignment) and a
`forward(nchw)` on numpy arrays. infer.py, evaluate, the gallery and the benches all load
through it, so they run (and time) the same thing. `load_adain` does the same for the AdaIN
model's two networks (its VGG16 encoder and its decoder), on mxnet, openvino or auto.

    backend mxnet, fp32    hybridized and oneDNN-fused (CPU) or hybridized (GPU)
    backend mxnet, bf16    MXNet AMP (CPUs with AVX-512 bf16 support)
    backend mxnet, int8    oneDNN post-training quantisation
    backend openvino       the ONNX export (made on first use) compiled by OpenVINO, f32 or bf16
    backend onnxruntime    an exported model (python -m gluon_sr.deploy.export), no MXNet
    backend auto           the fastest of these that keeps the model's quality, measured once
                           here (gluon_sr.deploy.auto); precision auto likewise

Nothing here imports MXNet at module level: the ONNX Runtime environment imports this module.
"""
import importlib.util
from types import SimpleNamespace

import numpy as np

from gluon_sr.model_store import inference_defaults
from gluon_sr.utils.errors import GluonSRError

BACKENDS = ("auto", "mxnet", "openvino", "onnxruntime")
PRECISIONS = ("auto", "fp32", "bf16", "int8")


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
        self.note = f"{backend} {precision}"          # what runs, as infer.py reports it

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


def load_for_inference(name, backend="mxnet", precision="fp32", ctx=None, interp=None):
    """Load model `name` (a name in params/, a NAME.json path, or for onnxruntime an .onnx
    path or an exported name) for inference. ctx: an mx.Context for the MXNet backend.
    interp: blend a GAN model's weights with its parent's (model_store.interpolated_model);
    the blend is made here, so it runs on MXNet fp32."""
    if backend not in BACKENDS:
        raise GluonSRError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if precision not in PRECISIONS:
        raise GluonSRError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    if interp is not None:
        if backend not in ("auto", "mxnet") or precision not in ("auto", "fp32"):
            raise GluonSRError("--interp blends weights at load time and runs on MXNet fp32; "
                               "drop --backend / --precision")
        model = _load_mxnet(name, "fp32", ctx, interp)
        model.note = (f"mxnet fp32, weights {interp:g} x {name} + {1 - interp:g} x "
                      f"{model.meta['interpolation']['parent']}")
        return model
    # Without MXNet (the inference-only environment) a model can only run from its export.
    exported = name.endswith(".onnx") or importlib.util.find_spec("mxnet") is None
    if backend == "auto":
        gpu = ctx is not None and ctx.device_type == "gpu"
        if precision == "auto" and not (gpu or exported):
            from gluon_sr.deploy.auto import load_fastest

            model, note = load_fastest(name, lambda n, b, p: load_for_inference(n, b, p, ctx))
            model.note = note
            return model
        backend = _backend_for(exported, gpu, precision)
    precision = "fp32" if precision == "auto" else precision
    if backend == "onnxruntime":
        if precision != "fp32":
            raise GluonSRError("--precision bf16/int8 are MXNet (oneDNN) paths; the ONNX "
                               "Runtime backend runs fp32")
        from gluon_sr.deploy.onnx_backend import OnnxModel

        model = OnnxModel(name)
        return _exported(name, model, backend, precision)
    if backend == "openvino":
        return _load_openvino(name, precision, exported, ctx)
    return _load_mxnet(name, precision, ctx)


def _backend_for(exported, gpu, precision):
    """--backend auto with a given precision, an export or a GPU: the one backend for it."""
    from gluon_sr.deploy.openvino_backend import native_bf16, openvino_available

    if exported:
        return "openvino" if openvino_available() else "onnxruntime"
    if gpu or precision == "int8" or not openvino_available():
        return "mxnet"
    return "openvino" if precision == "bf16" and native_bf16() else "mxnet"


def _load_openvino(name, precision, exported, ctx):
    from gluon_sr.deploy.openvino_backend import OpenVinoModel

    if exported:
        path, reload_gluon = name, None
    else:
        from gluon_sr.deploy.auto import cached_export
        from gluon_sr.model_store import load_model, load_model_description

        path = cached_export(name, load_model_description(name))

        def reload_gluon():              # exact tiling of style networks runs on MXNet
            return load_model(name, ctx=ctx)[0]
    model = OpenVinoModel(path, precision)
    return _exported(name, model, "openvino", precision, reload_gluon)


def _exported(name, model, backend, precision, reload_gluon=None):
    """An InferenceModel of an exported network (its description rides in the ONNX file)."""
    return InferenceModel(name, model.meta, model.run_numpy, model.meta["receptive_radius"],
                          model.meta.get("align", 1), backend, precision, reload_gluon)


def _load_mxnet(name, precision, ctx, interp=None):
    import mxnet as mx

    from gluon_sr.deploy.precision import convert
    from gluon_sr.model_store import interpolated_model, load_model

    ctx = ctx or mx.cpu()

    def load():
        return load_model(name, ctx=ctx) if interp is None else interpolated_model(name, interp, ctx)
    net, meta = load()
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
        return load()[0]

    return InferenceModel(name, meta, run, radius, align, "mxnet", precision, reload_gluon)


def load_adain(name="adain", vgg_weights=None, ctx=None, backend="mxnet", precision="fp32"):
    """An AdaINTransfer (gluon_sr.infer.adain) with the trained decoder `name` and the VGG16
    encoder. Returns (transfer, decoder meta).

    backend mxnet      both hybridized, fp32 (on ctx)
    backend openvino   both exported to ONNX once (cached, keyed by the decoder and the VGG16
                       weights) and compiled by OpenVINO, f32 or bf16 (CPUs with native bf16),
                       or int8: the decoder in int8 from the ranges its sidecar records, the
                       encoder in bf16 where native, else f32 (gluon_sr.deploy.adain_int8)
    backend auto       with precision auto, the faster of these that keeps the picture, measured
                       once on this machine (gluon_sr.deploy.auto); bf16 -> openvino, else mxnet
    """
    from gluon_sr.model_store import load_model_description

    meta = load_model_description(name)
    if meta.get("task") != "adain":
        raise GluonSRError(f"model {name} is not an AdaIN decoder (task {meta.get('task')!r})")
    gpu = ctx is not None and ctx.device_type == "gpu"
    if backend == "auto" and precision == "auto" and not gpu:
        from gluon_sr.deploy.auto import load_fastest

        transfer, note = load_fastest(name, lambda n, b, p: load_adain(n, vgg_weights, ctx,
                                                                       b, p)[0])
        transfer.note = note
        return transfer, meta
    if backend == "auto":
        backend = "openvino" if precision in ("bf16", "int8") else "mxnet"
    precision = "fp32" if precision == "auto" else precision
    if backend == "openvino":
        return _openvino_adain(name, meta, vgg_weights, precision), meta
    if backend != "mxnet" or precision != "fp32":
        raise GluonSRError("AdaIN runs on mxnet (fp32) or openvino (fp32, bf16, int8), not "
                           f"{backend} {precision}")
    return _mxnet_adain(name, vgg_weights, ctx), meta


def _mxnet_adain(name, vgg_weights, ctx):
    from gluon_sr.archs.adain import ENCODER_TAPS
    from gluon_sr.archs.vgg import load_loss_vgg
    from gluon_sr.infer.adain import AdaINTransfer
    from gluon_sr.model_store import load_model

    decoder, _ = load_model(name, ctx=ctx)
    encoder, _ = load_loss_vgg((ENCODER_TAPS[-1],), weights=vgg_weights,
                               ctx=[ctx] if ctx else None)
    encoder.hybridize(static_alloc=True)
    decoder.hybridize(static_alloc=True)
    return AdaINTransfer.from_gluon(encoder, decoder, ctx, name)


def _openvino_adain(name, meta, vgg_weights, precision):
    from gluon_sr.deploy.adain_int8 import int8_decoder, recorded_ranges
    from gluon_sr.deploy.auto import cached_adain_export
    from gluon_sr.deploy.openvino_backend import OpenVinoModel, native_bf16, openvino_available
    from gluon_sr.infer.adain import AdaINTransfer

    if not openvino_available():             # said before the export, not after it
        raise GluonSRError("--backend openvino needs OpenVINO: pip install openvino")
    ranges = recorded_ranges(meta) if precision == "int8" else None
    encoder_path, decoder_path = cached_adain_export(name, meta, vgg_weights)
    if ranges:
        # The quantized convolutions run in int8 whatever the hint; the rest take the hint.
        floats = "bf16" if native_bf16() else "fp32"
        encoder = OpenVinoModel(encoder_path, floats)
        # Compiled per shape: the int8 form's dynamic compilation converts layouts around
        # each pad (gluon_sr.deploy.openvino_backend).
        decoder = OpenVinoModel(int8_decoder(decoder_path, ranges), floats, per_shape=True)
    else:
        encoder, decoder = (OpenVinoModel(p, precision) for p in (encoder_path, decoder_path))
    return AdaINTransfer(lambda chw: encoder.run_numpy(chw[None])[0],
                         lambda chw: decoder.run_numpy(chw[None])[0],
                         decoder.meta["receptive_radius"], "openvino", precision, name)
