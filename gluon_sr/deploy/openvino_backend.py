"""Running exported models with OpenVINO (pip install openvino), beside MXNet or without it.

OpenVINO reads the ONNX export (python -m gluon_sr.deploy.export) with its dynamic height and
width, keeps the gluon-sr description that rides in the ONNX metadata, and compiles for this
CPU: f32, or bf16 where the CPU computes it natively (AMX, AVX-512 BF16), which MXNet 1.9's
oneDNN 2.4 cannot use. Compiled networks are cached on disk (OpenVINO's CACHE_DIR), so only
the first run of a model pays for the compilation. Nothing here imports mxnet.
"""
import os

import numpy as np

from gluon_sr.deploy.onnx_backend import METADATA_KEY, parse_description, resolve_onnx
from gluon_sr.utils.errors import GluonSRError
from gluon_sr.utils.paths import CACHE_DIR
from gluon_sr.utils.runtime import physical_core_count

PRECISIONS = {"fp32": "f32", "bf16": "bf16"}


def openvino_available():
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def native_bf16():
    """Whether OpenVINO computes bf16 natively on this CPU."""
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class OpenVinoModel:
    """An exported gluon-sr network compiled by OpenVINO for this CPU."""

    def __init__(self, name_or_path, precision="fp32", threads=None):
        try:
            import openvino as ov
        except ImportError:
            raise GluonSRError("--backend openvino needs OpenVINO: pip install openvino")
        if precision not in PRECISIONS:
            raise GluonSRError(f"--precision {precision} is not offered on OpenVINO "
                               f"(choose {', '.join(PRECISIONS)})")
        path = resolve_onnx(name_or_path)
        core = ov.Core()
        if precision == "bf16" and not native_bf16():
            raise GluonSRError("bf16 on OpenVINO needs a CPU with native bf16 (AMX or "
                               "AVX-512 BF16); this one has "
                               + ", ".join(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")))
        os.makedirs(os.path.join(CACHE_DIR, "openvino"), exist_ok=True)
        core.set_property({"CACHE_DIR": os.path.join(CACHE_DIR, "openvino")})
        try:
            model = core.read_model(path)
            described = model.get_rt_info(["framework", METADATA_KEY]).astype(str) \
                if model.has_rt_info(["framework", METADATA_KEY]) else None
        except Exception as e:  # OpenVINO raises its own RuntimeError kinds per failure
            raise GluonSRError(f"{path}: not a usable ONNX model ({str(e).splitlines()[0]})")
        if described is None:
            raise GluonSRError(f"{path}: has no gluon-sr description; export it with "
                               "python -m gluon_sr.deploy.export")
        self.meta = parse_description(described, path)
        self.path, self.precision = path, precision
        self.compiled = core.compile_model(model, "CPU", {
            "INFERENCE_NUM_THREADS": threads or physical_core_count(),
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": PRECISIONS[precision]})

    def run_numpy(self, nchw):
        """(N, 3, H, W) float32 -> the network's output as a numpy array."""
        return self.compiled(np.ascontiguousarray(nchw, np.float32))[0]
