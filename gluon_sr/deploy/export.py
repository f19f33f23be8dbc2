"""Export trained models for deployment: the Gluon symbol + params pair, and ONNX.

    python -m gluon_sr.deploy.export                 # every model in params/ -> exports/
    python -m gluon_sr.deploy.export sr_x4 --out deploy/

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


def export_onnx(net, meta, path):
    """Write `net` (a hybridizable gluon-sr network) as ONNX with dynamic height and width."""
    import mxnet as mx
    import onnx

    from gluon_sr.archs.transform_net import stat_norms

    with tempfile.TemporaryDirectory() as tmp:
        net = _copy_of(net, tmp)
        for norm in stat_norms(net):          # exported as ONNX InstanceNormalization
            norm.use_instance_norm_op = True
        net.hybridize()
        net(mx.nd.zeros((1, 3, CHECK_SIDE, CHECK_SIDE)))
        prefix = os.path.join(tmp, "model")
        net.export(prefix, epoch=0)
        onnx_tmp = os.path.join(tmp, "model.onnx")
        try:
            mx.onnx.export_model(prefix + "-symbol.json", prefix + "-0000.params",
                                 in_shapes=[(1, 3, CHECK_SIDE, CHECK_SIDE)], in_types=[np.float32],
                                 onnx_file_path=onnx_tmp, dynamic=True,
                                 dynamic_input_shapes=[(1, 3, None, None)])
        except Exception as e:  # the converter raises bare errors for unsupported operators
            raise GluonSRError(f"ONNX export failed: {describe(e)}")
        model = onnx.load(onnx_tmp)
    _strip_initializer_inputs(model)
    onnx.helper.set_model_props(model, {METADATA_KEY: json.dumps(onnx_description(net, meta))})
    onnx.checker.check_model(model)
    with atomic_path(path, ".onnx") as tmp_path:
        onnx.save(model, tmp_path)
    return path


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


def export(name, out_dir=EXPORT_DIR):
    """Gluon pair + ONNX + check file for one model; returns the written paths."""
    from gluon_sr.model_store import load_model

    net, meta = load_model(name)
    base = os.path.splitext(os.path.basename(name))[0]
    os.makedirs(out_dir, exist_ok=True)
    net.hybridize()
    written = [export_onnx(net, meta, os.path.join(out_dir, base + ".onnx")),
               write_check(net, os.path.join(out_dir, base + ".check.npz"))]
    written.extend(export_gluon(net, os.path.join(out_dir, base)))
    return written


def parse_args(argv=None):
    p = ArgumentParser(description="Export models to the Gluon symbol format and ONNX")
    p.add_argument("models", nargs="*", help="model names in params/ or NAME.json paths "
                   "(default: every model in params/)")
    p.add_argument("--out", default=EXPORT_DIR, help="output folder (default: exports/)")
    return p.parse_args(argv)


def main(argv=None):
    from gluon_sr.model_store import available_models

    args = parse_args(argv)
    names = args.models or available_models()
    if not names:
        raise GluonSRError("no models to export")
    for name in names:
        for path in export(name, args.out):
            print(f"{name}: wrote {path}")
    return 0


if __name__ == "__main__":
    run_cli(main)
