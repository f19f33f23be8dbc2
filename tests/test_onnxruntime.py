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
from gluon_sr.deploy.onnx_backend import EXPORT_DIR  # noqa: E402
from gluon_sr.infer.loader import load_for_inference  # noqa: E402
from gluon_sr.infer.tiling import run_network  # noqa: E402


def load(path):
    return load_for_inference(path, backend="onnxruntime")


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
        out = load(path).forward(check["input"])
        assert out.shape == check["output"].shape, path
        assert np.abs(out - check["output"]).max() <= 1e-4, path


def test_tiled_onnx_inference_equals_whole_image(exported):
    model = next(m for m in map(load, exported) if m.task == "sr")
    rgb = np.random.default_rng(1).uniform(0, 1, (40, 52, 3)).astype(np.float32)
    whole = run_network(model, rgb, tile=0)
    tiled = run_network(model, rgb, tile=16)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_exports_of_shipped_models_give_the_recorded_outputs(exported):
    """The ONNX Runtime outputs recorded before the package was reorganised (see
    tests/data/record_reference_outputs.py), through the same loader as every backend."""
    recorded = np.load(os.path.join(REPO, "tests", "data", "reference_outputs.npz"))
    names = sorted({k.split("/")[0] for k in recorded.files if k.endswith("/onnxruntime_fp32")})
    by_name = {os.path.basename(p)[:-5]: p for p in exported}
    assert set(names) <= set(by_name), sorted(set(names) - set(by_name))
    for name in names:
        out = load(by_name[name]).forward(recorded[f"{name}/input"])
        np.testing.assert_allclose(out, recorded[f"{name}/onnxruntime_fp32"], rtol=0, atol=1e-5,
                                   err_msg=name)


def test_infer_cli_runs_on_onnxruntime_without_mxnet(exported, tmp_path):
    sys.path.insert(0, REPO)
    import infer

    sr = next(p for p in exported if load(p).task == "sr")
    scale = load(sr).scale
    src = save_png(tmp_path / "small.png", h=20, w=24)
    out = tmp_path / "out.png"
    assert infer.main([src, "--backend", "onnxruntime", "--model", sr, "-o", str(out)]) == 0
    from PIL import Image

    assert Image.open(out).size == (24 * scale, 20 * scale)
    assert "mxnet" not in sys.modules
