"""Record every shipped model's outputs on fixed inputs, for tests/test_reference_outputs.py.

The file in this folder was recorded with the code before the package was reorganised
(commit 4c15113, MXNet outputs through precision.convert, ONNX Runtime outputs of its
exports), so the test shows that the new loader runs every model exactly as before. After a
shipped model is retrained, record again (MXNet environment, then the ONNX one):

    python tests/data/record_reference_outputs.py --backend mxnet
    python -m gluon_sr.deploy.export && .venv-onnx/bin/python tests/data/record_reference_outputs.py --backend onnxruntime
"""
import argparse
import hashlib
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
REFERENCE = os.path.join(HERE, "reference_outputs.npz")
ISA_FLAGS = {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "avx_vnni"}


def cpu_isa():
    """The CPU features that decide which oneDNN kernels (and so which low-precision
    rounding) run; int8/bf16 outputs are only comparable between equal sets."""
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return ""
    flags = text.split("flags", 1)[1].split("\n", 1)[0].split() if "flags" in text else []
    return " ".join(sorted(f for f in flags if f in ISA_FLAGS))


def fixed_input(task):
    side = (32, 40) if task == "style" else (16, 20)
    return np.random.default_rng(7).uniform(0, 1, (1, 3) + side).astype(np.float32)


def params_sha256(name):
    from gluon_sr.utils.paths import PARAMS_DIR

    with open(os.path.join(PARAMS_DIR, name + ".params"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    import gluon_sr  # noqa: F401
    from gluon_sr.infer.loader import PRECISIONS, load_for_inference
    from gluon_sr.model_store import image_models
    from gluon_sr.utils.errors import GluonSRError
    from gluon_sr.utils.paths import EXPORT_DIR

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", choices=("mxnet", "onnxruntime"), required=True)
    args = p.parse_args()
    ref = dict(np.load(REFERENCE)) if os.path.exists(REFERENCE) else {}
    names = sorted(image_models())       # not the AdaIN decoder: it needs a painting too
    for name in names:
        if args.backend == "onnxruntime":
            model = load_for_inference(os.path.join(EXPORT_DIR, name + ".onnx"), "onnxruntime")
            ref[f"{name}/onnxruntime_fp32"] = model.forward(ref[f"{name}/input"])
            continue
        for key in [k for k in ref if k.startswith(f"{name}/mxnet_")]:
            del ref[key]        # outputs of earlier weights, or of a precision not available now
        ref[f"{name}/params_sha256"] = np.array(params_sha256(name))
        for precision in PRECISIONS:
            try:
                model = load_for_inference(name, "mxnet", precision)
            except GluonSRError as e:
                print(f"{name} {precision}: not recorded ({e})")
                continue
            ref[f"{name}/input"] = fixed_input(model.task)
            ref[f"{name}/mxnet_{precision}"] = model.forward(ref[f"{name}/input"])
        ref["recorded_isa"] = np.array(cpu_isa())
    np.savez_compressed(REFERENCE, **ref)
    print(f"wrote {REFERENCE}")


if __name__ == "__main__":
    main()
