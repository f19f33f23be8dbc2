"""Export trained models for deployment: the Gluon symbol + params pair, and ONNX.

    python -m gluon_sr.deploy.export                 # every SR and style network -> exports/
    python -m gluon_sr.deploy.export sr_x4 --out deploy/
    python -m gluon_sr.deploy.export adain           # exports/adain.encoder.onnx + .decoder.onnx

The ONNX file carries the model's JSON description (task, scale, tiling radius) in its metadata,
so `infer.py --backend onnxruntime` runs it without MXNet (see gluon_sr.deploy.onnx_backend). Beside it,
NAME.check.npz holds a test input and MXNet's output for it, which the ONNX Runtime side
compares against.
"""
import json
import os
import tempfile

import numpy as np

from gluon_sr.utils.errors import ArgumentParser, GluonSRError, describe, run_cli
from gluon_sr.utils.fileio import atomic_path
from gluon_sr.deploy.onnx_backend import EXPORT_DIR, METADATA_KEY

CHECK_SIDE = 48          # side of the random check input (a multiple of the style net's ALIGN)


def onnx_description(net, meta):
    """What the ONNX side needs to run the model the way infer.py runs the MXNet one."""
    from gluon_sr.model_store import inference_defaults

    description = {k: meta[k] for k in ("arch", "config", "task", "scale", "params_sha256")
                   if k in meta}
    description["receptive_radius"] = net.receptive_radius()
    description["align"] = getattr(net, "align", 1)
    description["inference"] = inference_defaults(meta)
    return description


def _strip_initializer_inputs(model):
    """MXNet lists the weights as graph inputs too; ONNX Runtime then treats them as
    overridable and skips constant folding. Keep only the real input."""
    weights = {init.name for init in model.graph.initializer}
    real = [i for i in model.graph.input if i.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(real)


def _copy_of(net, folder):
    """A new instance of `net` with its weights, so that export settings stay off the caller's."""
    from gluon_sr.archs import get_model, model_spec

    spec = model_spec(net)
    path = os.path.join(folder, "weights.params")
    net.save_parameters(path)
    copy = get_model(spec["arch"], **spec["config"])
    copy.load_parameters(path)
    return copy


def _to_onnx(net, in_shape, description, path):
    """A hybridized `net` as ONNX with dynamic height and width, `description` in its metadata."""
    import mxnet as mx
    import onnx

    with tempfile.TemporaryDirectory() as tmp:
        net(mx.nd.zeros(in_shape))
        prefix = os.path.join(tmp, "model")
        net.export(prefix, epoch=0)
        onnx_tmp = os.path.join(tmp, "model.onnx")
        try:
            mx.onnx.export_model(prefix + "-symbol.json", prefix + "-0000.params",
                                 in_shapes=[in_shape], in_types=[np.float32],
                                 onnx_file_path=onnx_tmp, dynamic=True,
                                 dynamic_input_shapes=[(1, in_shape[1], None, None)])
        except Exception as e:  # the converter raises bare errors for unsupported operators
            raise GluonSRError(f"ONNX export failed: {describe(e)}")
        model = onnx.load(onnx_tmp)
    _strip_initializer_inputs(model)
    onnx.helper.set_model_props(model, {METADATA_KEY: json.dumps(description)})
    onnx.checker.check_model(model)
    with atomic_path(path, ".onnx") as tmp_path:
        onnx.save(model, tmp_path)
    return path


def export_onnx(net, meta, path):
    """Write `net` (a hybridizable gluon-sr network) as ONNX with dynamic height and width."""
    from gluon_sr.archs.transform_net import stat_norms

    with tempfile.TemporaryDirectory() as tmp:
        net = _copy_of(net, tmp)
        for norm in stat_norms(net):          # exported as ONNX InstanceNormalization
            norm.use_instance_norm_op = True
        net.hybridize()
        return _to_onnx(net, (1, 3, CHECK_SIDE, CHECK_SIDE), onnx_description(net, meta), path)


def export_adain(name, out_dir, vgg_weights=None):
    """An AdaIN model as two ONNX files: NAME.encoder.onnx (RGB 0..1 -> relu4_1, sides a
    multiple of 8) and NAME.decoder.onnx (relu4_1-shaped features -> RGB); the AdaIN step
    between them is a few lines of numpy (gluon_sr.infer.adain.renormalise)."""
    from gluon_sr.archs.adain import ENCODER_RADIUS, ENCODER_TAPS
    from gluon_sr.archs.vgg import load_loss_vgg
    from gluon_sr.model_store import load_model

    decoder, meta = load_model(name)
    encoder, vgg_source = load_loss_vgg((ENCODER_TAPS[-1],), weights=vgg_weights)
    base = os.path.join(out_dir, os.path.splitext(os.path.basename(name))[0])
    common = {"task": "adain", "params_sha256": meta.get("params_sha256"), "vgg": vgg_source,
              "align": 8}
    written = []
    for part, net, shape, described in (
            ("encoder", encoder, (1, 3, CHECK_SIDE, CHECK_SIDE),
             {"config": {}, "receptive_radius": ENCODER_RADIUS}),
            ("decoder", decoder, (1, 512, CHECK_SIDE // 8, CHECK_SIDE // 8),
             {"config": meta.get("config", {}), "receptive_radius": decoder.receptive_radius()})):
        net.hybridize()
        written.append(_to_onnx(net, shape, {**common, **described, "part": part},
                                f"{base}.{part}.onnx"))
    return written


def export_gluon(net, prefix):
    """Gluon export (symbol JSON + params) of a hybridized net that has run forward once."""
    folder = os.path.dirname(os.path.abspath(prefix))
    os.makedirs(folder, exist_ok=True)
    net.export(prefix, epoch=0)
    return prefix + "-symbol.json", prefix + "-0000.params"


def write_check(net, path, seed=0):
    """A random input and MXNet's output for it: the reference for other backends."""
    import mxnet as mx

    x = np.random.default_rng(seed).uniform(0, 1, (1, 3, CHECK_SIDE, CHECK_SIDE - 8))
    x = x.astype(np.float32)
    y = net(mx.nd.array(x)).asnumpy()
    with atomic_path(path, ".npz") as tmp_path:
        with open(tmp_path, "wb") as f:
            np.savez(f, input=x, output=y)
    return path


def export(name, out_dir=EXPORT_DIR, vgg_weights=None):
    """Gluon pair + ONNX + check file for one model (an AdaIN model: its encoder and decoder
    as ONNX); returns the written paths."""
    from gluon_sr.model_store import load_model, load_model_description

    os.makedirs(out_dir, exist_ok=True)
    if load_model_description(name).get("task") == "adain":
        return export_adain(name, out_dir, vgg_weights)
    net, meta = load_model(name)
    base = os.path.splitext(os.path.basename(name))[0]
    net.hybridize()
    written = [export_onnx(net, meta, os.path.join(out_dir, base + ".onnx")),
               write_check(net, os.path.join(out_dir, base + ".check.npz"))]
    written.extend(export_gluon(net, os.path.join(out_dir, base)))
    return written


def parse_args(argv=None):
    p = ArgumentParser(description="Export models to the Gluon symbol format and ONNX")
    p.add_argument("models", nargs="*", help="model names in params/ or NAME.json paths "
                   "(default: every SR and style network in params/)")
    p.add_argument("--out", default=EXPORT_DIR, help="output folder (default: exports/)")
    p.add_argument("--vgg", default="", help="VGG16 weights for an AdaIN model's encoder "
                   "(default $GLUON_SR_VGG16)")
    return p.parse_args(argv)


def main(argv=None):
    from gluon_sr.model_store import image_models

    args = parse_args(argv)
    names = args.models or image_models()
    if not names:
        raise GluonSRError("no models to export")
    for name in names:
        for path in export(name, args.out, args.vgg or None):
            print(f"{name}: wrote {path}")
    return 0


if __name__ == "__main__":
    run_cli(main)
