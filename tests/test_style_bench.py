import json
import os

import numpy as np
import pytest
from PIL import Image

from gluon_sr.evaluation import gallery, style_bench
from gluon_sr.train.run import resolve_config, train


@pytest.fixture
def style_model(image_folder, tmp_path, vgg_file):
    cfg = resolve_config(dict(
        name="tiny_style", task="style", model_config=dict(channels=4, num_blocks=1),
        content=[image_folder], style_image=os.path.join(image_folder, "img0.png"),
        image_size=32, style_weight=1e-3, tv_weight=1e-3, vgg=vgg_file, steps=2, batch_size=2,
        log_every=2, checkpoint_every=2, run_dir=str(tmp_path / "run"),
        out_dir=str(tmp_path / "params"), progress=False))
    return train(cfg)


def test_style_bench_times_both_methods_and_places_the_network_on_gatys_curve(
        style_model, image_folder, tmp_path, vgg_file):
    out = tmp_path / "bench.json"
    assert style_bench.main(["--models", style_model, "--content",
                             os.path.join(image_folder, "img2.png"), "--sizes", "32", "48",
                             "--iters", "6", "--max-full-side", "32", "--measured-iters", "2",
                             "--vgg", vgg_file, "--out", str(out)]) == 0
    small, large = json.load(open(out))["models"][style_model]
    assert max(small["size"]) == 32 and not small["gatys_time_extrapolated"]
    assert small["gatys_iters_run"] == 6 and small["speedup"] > 0
    assert small["gatys_loss_last"] < small["gatys_loss_first"]          # L-BFGS makes progress
    # The first iteration whose loss is at most the network's, or None when none is.
    curve, reached = small["gatys_loss_curve"], small["gatys_iters_to_network_loss"]
    below = [i + 1 for i, loss in enumerate(curve) if loss <= small["network_loss"]]
    assert reached == (below[0] if below else None)
    assert large["gatys_time_extrapolated"] and large["gatys_iters_run"] == 2
    assert large["gatys_6_s"] == pytest.approx(large["gatys_s_per_iter"] * 6)


def test_gallery_grid_has_a_row_per_photo_and_a_column_per_style(style_model, image_folder,
                                                                  tmp_path):
    out = tmp_path / "gallery.png"
    photos = [os.path.join(image_folder, f"img{i}.png") for i in (2, 4)]
    assert gallery.main(["--models", style_model, "--content", *photos, "--size", "40",
                         "--out", str(out)]) == 0
    width, height = Image.open(out).size       # (1 + 1 styles) x (1 + 2 photos) cells of 240 px
    assert abs(width - 480) <= 1 and abs(height - 720) <= 1


def test_style_quality_compares_a_backend_with_fp32_and_records_the_worst_photo(
        style_model, image_folder, tmp_path, vgg_file):
    pytest.importorskip("openvino", reason="the compared backend is OpenVINO")
    from gluon_sr.evaluation import style_quality

    out = tmp_path / "quality.json"
    assert style_quality.main(["--models", style_model, "--backend", "openvino", "--precision",
                               "fp32", "--content", image_folder, "--size", "40", "--vgg",
                               vgg_file, "--write-metrics", "--out", str(out)]) == 0
    rows = json.load(open(out))["models"][style_model]
    assert [r["photo"] for r in rows] == ["img0.png", "img2.png", "img4.png"]
    # OpenVINO f32 computes the same function: far above the 40 dB bar, loss unchanged.
    assert all(r["output_psnr_db"] > 60 and abs(r["loss_change"]) < 1e-3 for r in rows)
    recorded = json.load(open(style_model))["deployment"]["openvino_fp32"]
    worst = min(r["output_psnr_db"] for r in rows)                # recorded rounded down
    assert recorded["min_output_psnr_db"] == np.floor(100 * worst) / 100 <= worst
    assert style_quality.output_psnr(np.zeros((4, 4, 3)), np.full((4, 4, 3), 0.1)) == \
        pytest.approx(20.0)


def test_style_heldout_scores_each_photo_counts_blobs_and_records_the_summary(
        style_model, image_folder, tmp_path, vgg_file):
    from gluon_sr.evaluation import style_heldout

    out = tmp_path / "heldout.json"
    assert style_heldout.main(["--models", style_model, "--photos", image_folder, "--size", "40",
                               "--gatys-size", "32", "--gatys-iters", "4", "--vgg", vgg_file,
                               "--write-metrics", "--out", str(out)]) == 0
    result = json.load(open(out))["models"][style_model]
    assert [r["photo"] for r in result["photos"]] == ["img0.png", "img2.png", "img4.png"]
    assert all(r["content_loss"] > 0 and r["style_loss"] > 0 for r in result["photos"])
    summary = result["summary"]
    assert summary["style_loss"] == pytest.approx(np.mean([r["style_loss"]
                                                           for r in result["photos"]]))
    for row in result["gatys"]:                 # a run stops where it reaches the network
        assert row["gatys_iters_run"] == (row["gatys_iters_to_network_loss"] or 4)
    recorded = json.load(open(style_model))["metrics"]["held_out"]
    assert recorded["size"] == 40 and recorded["blobs"] == summary["blobs"]
    assert recorded["gatys_start"] == "photo"

    # From noise (Johnson et al.'s baseline) the summary goes beside the photo-start one.
    assert style_heldout.main(["--models", style_model, "--photos", image_folder, "--size", "40",
                               "--gatys-size", "32", "--gatys-iters", "3", "--gatys-start",
                               "noise", "--vgg", vgg_file, "--write-metrics", "--out",
                               str(out)]) == 0
    metrics = json.load(open(style_model))["metrics"]
    assert metrics["held_out"] == recorded
    from_noise = metrics["held_out_gatys_from_noise"]
    assert from_noise["gatys_start"] == "noise" and from_noise["gatys_iters"] == 3
    assert json.load(open(out))["gatys_start"] == "noise"


def test_style_heldout_counts_a_photo_gatys_never_reached_as_more_than_the_run():
    from gluon_sr.evaluation.style_heldout import summary

    rows = [{"content_loss": 1.0, "style_loss": 2.0, "blobs": 1},
            {"content_loss": 3.0, "style_loss": 4.0, "blobs": 0}]
    gatys = [{"gatys_iters_to_network_loss": 2, "gatys_iters_run": 60},
             {"gatys_iters_to_network_loss": None, "gatys_iters_run": 60},
             {"gatys_iters_to_network_loss": None, "gatys_iters_run": 60}]
    s = summary(rows, gatys)
    assert (s["content_loss"], s["style_loss"], s["blobs"]) == (2.0, 3.0, 1)
    assert s["gatys_median_iters_to_network_loss"] == 61 and s["gatys_not_reached"] == 2


def test_painting_for_scales_the_painting_as_trained_to_a_given_size_or_not_at_all(tmp_path):
    path = str(tmp_path / "painting.png")
    Image.fromarray(np.zeros((60, 90, 3), np.uint8)).save(path)
    meta = {"style": {"style_size": 30}}
    assert style_bench.painting_for(meta, path).shape == (30, 45, 3)          # as trained
    assert style_bench.painting_for(meta, path, 40).shape == (40, 60, 3)
    assert style_bench.painting_for(meta, path, 0).shape == (60, 90, 3)       # the file
    assert style_bench.painting_for({"style": {"style_size": 0}}, path).shape == (60, 90, 3)
