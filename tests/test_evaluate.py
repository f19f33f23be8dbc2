import json
import os

import mxnet as mx
import numpy as np
import pytest

from conftest import save_png
from PIL import Image
from gluon_sr.evaluation import evaluate
from gluon_sr.evaluation.figures import detail_crop
from gluon_sr.archs import get_model
from gluon_sr.utils.imresize import imresize
from gluon_sr.evaluation.metrics import psnr_y
from gluon_sr.model_store import save_model


@pytest.fixture
def bench(tmp_path):
    for i, (h, w) in enumerate([(34, 41), (40, 40)]):
        (tmp_path / "bench" / "Tiny").mkdir(parents=True, exist_ok=True)
        save_png(tmp_path / "bench" / "Tiny" / f"im{i}.png", h=h, w=w, seed=i)
    return str(tmp_path / "bench")


def test_evaluation_table_and_sidecar_metrics(bench, tmp_path, capsys):
    net = get_model("edsr", scale=2, channels=4, num_blocks=1)
    net.initialize()
    net(mx.nd.zeros((1, 3, 4, 4)))
    json_path = save_model(net, str(tmp_path / "m"), "tiny", {"task": "sr"})
    out = tmp_path / "eval.json"
    assert evaluate.main(["--scale", "2", "--bench", bench, "--sets", "Tiny", "--models",
                          json_path, "--out", str(out), "--write-metrics", "--features",
                          "--self-ensemble"]) == 0
    results = json.load(open(out))
    rows = results["sets"]["Tiny"]
    # The bicubic row is the protocol applied by hand: mod-crop, MATLAB down/up, Y-PSNR.
    from PIL import Image

    hr = np.asarray(Image.open(os.path.join(bench, "Tiny", "im0.png")))[:34, :40]
    up = imresize(imresize(hr, 0.5), 2)
    assert rows["bicubic"]["per_image"]["im0"]["psnr"] == pytest.approx(
        psnr_y(up / 255.0, hr / 255.0, 2))
    assert set(rows[json_path]["per_image"]) == {"im0", "im1"}
    assert rows[json_path]["s_per_mp"] > 0
    assert set(rows[json_path + "+"]["per_image"]) == {"im0", "im1"}
    assert rows[json_path + "+"]["mean"]["psnr"] != rows[json_path]["mean"]["psnr"]
    meta = json.load(open(json_path))
    assert meta["metrics"]["benchmarks"]["Tiny_x2"]["psnr"] == pytest.approx(
        rows[json_path]["mean"]["psnr"], abs=1e-4)
    printed = capsys.readouterr().out
    assert "FSRCNN (quoted)" in printed and "bicubic" in printed


def test_wrong_scale_model_is_refused(bench, tmp_path):
    from gluon_sr.utils.errors import GluonSRError

    net = get_model("edsr", scale=4, channels=4, num_blocks=1)
    net.initialize()
    net(mx.nd.zeros((1, 3, 4, 4)))
    json_path = save_model(net, str(tmp_path / "m"), "x4", {"task": "sr"})
    with pytest.raises(GluonSRError, match="not an x2 SR model"):
        evaluate.main(["--scale", "2", "--bench", bench, "--sets", "Tiny", "--models", json_path,
                       "--out", str(tmp_path / "e.json"), "--features"])


def test_detail_crop_finds_the_textured_corner():
    img = np.zeros((60, 80, 3), np.uint8)
    img[40:60, 50:70] = (np.indices((20, 20)).sum(0) % 2 * 255)[..., None]   # checkerboard
    top, left, size = detail_crop(img, 16)
    assert size == 16 and 40 <= top <= 44 and 50 <= left <= 54


def test_comparison_figure_is_written(bench, tmp_path):
    out = tmp_path / "figs"
    assert evaluate.main(["--scale", "2", "--bench", bench, "--sets", "Tiny", "--models",
                          "--figures", str(out), "--out", str(tmp_path / "e.json"),
                          "--features"]) == 0
    files = os.listdir(out)
    assert len(files) == 1 and files[0].startswith("compare_Tiny_")
    from PIL import Image

    assert Image.open(out / files[0]).size[0] > 300


def test_feature_distance_matches_a_direct_vgg_computation(bench, tmp_path, vgg_file):
    from gluon_sr.archs.vgg import load_loss_vgg

    out = tmp_path / "e.json"
    assert evaluate.main(["--scale", "2", "--bench", bench, "--sets", "Tiny", "--models",
                          "--features", "relu2_2", "relu3_3", "--vgg", vgg_file,
                          "--out", str(out)]) == 0
    results = json.load(open(out))
    assert results["feature_distance"]["layers"] == ["relu2_2", "relu3_3"]
    scores = results["sets"]["Tiny"]["bicubic"]["per_image"]["im1"]
    from PIL import Image

    hr = np.asarray(Image.open(os.path.join(bench, "Tiny", "im1.png")))
    up = imresize(imresize(hr, 0.5), 2)
    vgg, _ = load_loss_vgg(("relu2_2", "relu3_3"), weights=vgg_file)
    to_nd = lambda a: mx.nd.array(a.transpose(2, 0, 1)[None] / 255.0)   # noqa: E731
    f_up, f_hr = vgg(to_nd(up)), vgg(to_nd(hr))
    for layer in ("relu2_2", "relu3_3"):
        expected = np.mean((f_up[layer].asnumpy() - f_hr[layer].asnumpy()) ** 2)
        assert scores[layer] == pytest.approx(expected, rel=1e-4)
        assert scores[layer] > 0


def test_held_out_files_shrunk_hr_and_jpeg_lr(tmp_path):
    from gluon_sr.data.degrade import jpeg_roundtrip

    folder = tmp_path / "set"
    folder.mkdir()
    for name in ("keep1", "keep2", "other"):
        save_png(folder / f"{name}.png", h=41, w=62)
    pairs = evaluate.load_pairs(str(folder), 2, include="keep*", hr_scale=0.5, jpeg=70)
    assert [name for name, _, _ in pairs] == ["keep1", "keep2"]
    _, hr, lr = pairs[0]
    assert hr.shape == (20, 30, 3) and lr.shape == (10, 15, 3)
    np.testing.assert_array_equal(lr, jpeg_roundtrip(imresize(hr, 0.5), 70))


def test_flattest_crop_is_a_mid_grey_fill():
    img = np.full((60, 80, 3), 128, np.uint8)
    img[:, :30] = (np.indices((60, 30)).sum(0) % 2 * 255)[..., None]    # texture on the left
    img[40:, 60:] = 0                                                    # black corner
    top, left, size = detail_crop(img, 16, flattest=True)
    assert left >= 30 and not (top + size > 40 and left + size > 60)


def test_deployment_records_the_psnr_change_against_the_reference():
    from gluon_sr.evaluation.records import record_deployment
    from gluon_sr.utils.errors import GluonSRError

    results = {"scale": 4, "protocol": "p", "sets": {
        "Set5": {"m (mxnet int8)": {"mean": {"psnr": 30.95}}},
        "Set14": {"m (mxnet int8)": {"mean": {"psnr": 27.90}}}}}
    meta = {"metrics": {"benchmarks": {"Set5_x4": {"psnr": 30.99}, "Set14_x4": {"psnr": 27.88}}}}
    record_deployment(meta, results, "m (mxnet int8)", "mxnet_int8", "m.json")
    entry = meta["deployment"]["mxnet_int8"]
    assert entry["psnr_change_db"] == {"Set5": -0.04, "Set14": 0.02}
    assert entry["max_psnr_change_db"] == 0.04
    with pytest.raises(GluonSRError, match="no MXNet fp32 numbers"):
        record_deployment({}, results, "m (mxnet int8)", "mxnet_int8", "m.json")


def test_lpips_and_niqe_columns_with_hr_as_the_niqe_reference(tmp_path, capsys):
    from conftest import SHARED
    from gluon_sr.evaluation.niqe import NIQE

    lpips_file = os.path.join(SHARED, "weights", "lpips_alexnet_v0.1.npz")
    niqe_file = os.path.join(SHARED, "weights", "niqe_pris_params.npz")
    if not (os.path.exists(lpips_file) and os.path.exists(niqe_file)):
        pytest.skip("LPIPS / NIQE parameter files not found (../shared is absent)")
    (tmp_path / "bench" / "Big").mkdir(parents=True)
    save_png(tmp_path / "bench" / "Big" / "im0.png", h=104, w=120, seed=3)
    net = get_model("edsr", scale=2, channels=4, num_blocks=1)
    net.initialize()
    net(mx.nd.zeros((1, 3, 4, 4)))
    json_path = save_model(net, str(tmp_path / "m"), "tiny", {"task": "sr"})
    out = tmp_path / "eval.json"
    assert evaluate.main(["--scale", "2", "--bench", str(tmp_path / "bench"), "--sets", "Big",
                          "--models", json_path, "--out", str(out), "--write-metrics",
                          "--lpips", "--lpips-weights", lpips_file, "--niqe", "--niqe-params",
                          niqe_file, "--no-ssim", "--features"]) == 0
    rows = json.load(open(out))["sets"]["Big"]
    hr = np.asarray(Image.open(tmp_path / "bench" / "Big" / "im0.png"))
    assert rows["HR"]["mean"]["niqe"] == pytest.approx(NIQE(niqe_file)(hr, crop=2))
    for method in ("bicubic", json_path):
        assert 0 < rows[method]["mean"]["lpips"] < 1 and rows[method]["mean"]["niqe"] > 0
    recorded = json.load(open(json_path))["metrics"]["benchmarks"]["Big_x2"]
    assert recorded["lpips"] == round(rows[json_path]["mean"]["lpips"], 4)
    assert recorded["hr_niqe"] == round(rows["HR"]["mean"]["niqe"], 4)
    printed = capsys.readouterr().out
    assert "NIQE" in printed and "LPIPS" in printed
