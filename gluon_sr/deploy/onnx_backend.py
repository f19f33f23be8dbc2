"""Running exported models with ONNX Runtime, without MXNet.

The deployment environment (requirements-onnx.txt: onnxruntime, numpy, pillow) cannot import
MXNet 1.9 (it needs numpy < 1.24, onnxruntime numpy >= 1.24). `OnnxModel` offers what the
tiling and stylising code asks of a network, so `infer.py --backend onnxruntime` shares that
code with the MXNet path. Nothing here imports mxnet.
"""
import json
import os

import numpy as np

from gluon_sr.utils.errors import GluonSRError
from gluon_sr.utils.paths import EXPORT_DIR
from gluon_sr.utils.runtime import physical_core_count

METADATA_KEY = "gluon_sr"



def resolve_onnx(name_or_path, export_dir=None):
    """A model name (looked up as exports/NAME.onnx) or a path to an .onnx file."""
    export_dir = export_dir or EXPORT_DIR
    if name_or_path.endswith(".onnx") or os.sep in name_or_path:
        path = name_or_path
    else:
        path = os.path.join(export_dir, name_or_path + ".onnx")
    if not os.path.isfile(path):
        raise GluonSRError(f"{path}: no exported model; make it with "
                           f"python -m gluon_sr.deploy.export {os.path.basename(path)[:-5]} "
                           "(in the MXNet environment)")
    return path


def parse_description(text, path):
    """The model description an export keeps in its ONNX metadata, checked."""
    try:
        meta = json.loads(text)
        dict(meta["config"])
        int(meta["receptive_radius"])
    except (ValueError, KeyError, TypeError) as e:
        raise GluonSRError(f"{path}: corrupt gluon-sr description in the ONNX metadata "
                           f"({type(e).__name__}: {e})")
    return meta


class OnnxModel:
    """An exported gluon-sr network in an ONNX Runtime session (CPU)."""

    def __init__(self, name_or_path, threads=None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise GluonSRError("--backend onnxruntime needs onnxruntime: "
                               "pip install -r requirements-onnx.txt")
        path = resolve_onnx(name_or_path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or physical_core_count()
        options.log_severity_level = 3          # warnings about the graph are not the user's
        try:
            self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types per failure
            raise GluonSRError(f"{path}: not a usable ONNX model ({str(e).splitlines()[0]})")
        described = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if described is None:
            raise GluonSRError(f"{path}: has no gluon-sr description; export it with "
                               "python -m gluon_sr.deploy.export")
        self.meta = parse_description(described, path)
        self.path = path
        self._input = self.session.get_inputs()[0].name

    def run_numpy(self, nchw):
        """(N, 3, H, W) float32 -> the network's output as a numpy array."""
        return self.session.run(None, {self._input: np.ascontiguousarray(nchw, np.float32)})[0]
