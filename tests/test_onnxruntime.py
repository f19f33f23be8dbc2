"""The inference-only environment: exported models on ONNX Runtime, no MXNet.

Runs in the venv of requirements-onnx.txt (see .ci/run) after `python -m gluon_sr.deploy.export` has
written exports/ in the MXNet environment; in the MXNet environment these tests skip.
"""
import glob
import os
import sys

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="runs in the ONNX Runtime environment "
                    "(requirements-onnx.txt), not beside MXNet")

from conftest import REPO, save_png  # noqa: E402
from gluon_sr.infer.tiling import run_network  # noqa: E402
from gluon_sr.deploy.onnx_backend import EXPORT_DIR, OnnxModel  # noqa: E402


@pytest.fixture(scope="module")
def exported():
    files = sorted(glob.glob(os.path.join(EXPORT_DIR, "*.onnx")))
    if not files:
        message = f"no exported models in {EXPORT_DIR}: run python -m gluon_sr.deploy.export first"
        if os.environ.get("GLUON_SR_EXPORTS"):
            pytest.fail(message)            # CI names the folder: an empty one is a failure
        pytest.skip(message)
    return files


def test_every_export_matches_mxnet(exported):
    for path in exported:
        check = np.load(path[:-5] + ".check.npz")
        out = OnnxModel(path).run_numpy(check["input"])
        assert out.shape == check["output"].shape, path
        assert np.abs(out - check["output"]).max() <= 1e-4, path


def test_tiled_onnx_inference_equals_whole_image(exported):
    sr = [p for p in exported if OnnxModel(p).meta["task"] == "sr"]
    model = OnnxModel(sr[0])
    rgb = np.random.default_rng(1).uniform(0, 1, (40, 52, 3)).astype(np.float32)
    whole = run_network(model, rgb, model.meta["scale"], tile=0)
    tiled = run_network(model, rgb, model.meta["scale"], tile=16)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_infer_cli_runs_on_onnxruntime_without_mxnet(exported, tmp_path):
    sys.path.insert(0, REPO)
    import infer

    sr = [p for p in exported if OnnxModel(p).meta["task"] == "sr"][0]
    scale = OnnxModel(sr).meta["scale"]
    src = save_png(tmp_path / "small.png", h=20, w=24)
    out = tmp_path / "out.png"
    assert infer.main([src, "--backend", "onnxruntime", "--model", sr, "-o", str(out)]) == 0
    from PIL import Image

    assert Image.open(out).size == (24 * scale, 20 * scale)
    assert "mxnet" not in sys.modules
