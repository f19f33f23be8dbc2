"""Running exported models with OpenVINO (pip install openvino), beside MXNet or without it.

OpenVINO reads the ONNX export (python -m gluon_sr.deploy.export) with its dynamic height and
width, keeps the gluon-sr description that rides in the ONNX metadata, and compiles for this
CPU: f32, or bf16 where the CPU computes it natively (AMX, AVX-512 BF16), which MXNet 1.9's
oneDNN 2.4 cannot use. Compiled networks are cached on disk (OpenVINO's CACHE_DIR), so only
the first run of a model pays for the compilation. Nothing here imports mxnet.

A network can instead be compiled for each input shape it meets (`per_shape`): measured on the
AdaIN decoder in int8 at 576 x 576, the dynamic-shape compilation converts layouts around each
reflection pad (bf16 to f32 and back, 37 ms of 0.23 s) where the fixed-shape one runs the pads
in the convolutions' layout: 0.19 s, for one compilation per new shape (0.08 s from the disk
cache, where the dynamic one took 0.06 s once). The float networks run as fast either way
(measured: SR, style networks, the VGG16 encoder), so they keep one dynamic compilation.
"""
import os
from collections import OrderedDict

import numpy as np

from gluon_sr.deploy.onnx_backend import METADATA_KEY, parse_description, resolve_onnx
from gluon_sr.utils.errors import GluonSRError
from gluon_sr.utils.paths import CACHE_DIR
from gluon_sr.utils.runtime import physical_core_count

PRECISIONS = {"fp32": "f32", "bf16": "bf16"}
SHAPES_KEPT = 4               # per_shape: compilations kept, the least recently used dropped


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

    def __init__(self, name_or_path, precision="fp32", threads=None, per_shape=False):
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
        self._core, self._model = core, model
        self._config = {"INFERENCE_NUM_THREADS": threads or physical_core_count(),
                        "PERFORMANCE_HINT": "LATENCY",
                        "INFERENCE_PRECISION_HINT": PRECISIONS[precision]}
        self.per_shape = per_shape
        self._by_shape = OrderedDict()
        self._dynamic = None if per_shape else core.compile_model(model, "CPU", self._config)

    def compiled_for(self, shape):
        """The compiled network that runs inputs of this shape."""
        if not self.per_shape:
            return self._dynamic
        if shape not in self._by_shape:
            if len(self._by_shape) >= SHAPES_KEPT:
                self._by_shape.popitem(last=False)
            fixed = self._model.clone()
            fixed.reshape({fixed.inputs[0].get_any_name(): list(shape)})
            self._by_shape[shape] = self._core.compile_model(fixed, "CPU", self._config)
        self._by_shape.move_to_end(shape)
        return self._by_shape[shape]

    def run_numpy(self, nchw):
        """(N, C, H, W) float32 -> the network's output as a numpy array."""
        x = np.ascontiguousarray(nchw, np.float32)
        return self.compiled_for(x.shape)(x)[0]
