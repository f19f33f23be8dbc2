"""The three CLIs end to end, and every bad input: one line, exit code 2, no partial output."""
import json
import os

import mxnet as mx
import numpy as np
import pytest
from PIL import Image

from conftest import assert_one_line_error, png_header_only, run_script as run, save_png
from gluon_sr.archs import get_model
from gluon_sr.model_store import save_model

pytestmark = pytest.mark.slow


@pytest.fixture
def tiny_model(tmp_path):
    net = get_model("edsr", scale=2, channels=8, num_blocks=1)
    net.initialize()
    net(mx.nd.zeros((1, 3, 4, 4)))
    save_model(net, str(tmp_path / "models"), "tiny", {"task": "sr"})
    return str(tmp_path / "models" / "tiny.json")


def test_build_train_infer_end_to_end(image_folder, tmp_path):
    code, out, err = run("data_prep/build.py", "--src", image_folder, "--out", tmp_path / "sh",
                         "--scale", "2", "--crop", "32", "--crops-per-image", "4", "--quiet")
    assert code == 0, err
    assert "24 samples from 6 images" in out
    code, out, err = run("train.py", "--shards", tmp_path / "sh", "--name", "cli", "--arch", "edsr",
                         "--channels", "8", "--blocks", "1", "--feat-weight", "0",
                         "--pixel-weight", "1", "--steps", "4", "--batch-size", "4",
                         "--log-every", "2", "--run-dir", tmp_path / "run", "--out-dir",
                         tmp_path / "params", "--quiet")
    assert code == 0, err
    meta = json.load(open(tmp_path / "params" / "cli.json"))
    assert meta["training"]["command"].startswith("python train.py --shards")
    photo = save_png(tmp_path / "photo.png", h=30, w=20)
    code, out, err = run("infer.py", photo, "--model", tmp_path / "params" / "cli.json")
    assert code == 0, err
    assert "MP/s" in out
    assert Image.open(tmp_path / "photo_x2.png").size == (40, 60)


def test_batch_goes_on_past_a_bad_file(tmp_path, tiny_model):
    good = save_png(tmp_path / "good.png")
    (tmp_path / "bad.png").write_text("not an image")
    code, out, err = run("infer.py", good, tmp_path / "bad.png", "-o", tmp_path / "out",
                         "--model", tiny_model)
    assert code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and "bad.png" in lines[0], err
    assert lines[1].startswith("1 of 2 image(s) failed"), err
    assert os.listdir(tmp_path / "out") == ["good_x2.png"]


def _truncated(p):
    data = open(save_png(p / "full.png", h=64, w=64), "rb").read()
    (p / "cut.png").write_bytes(data[: len(data) // 2])
    return p / "cut.png"


BAD_INPUTS = {
    "missing": (lambda p: p / "missing.png", "no such file"),
    "zero-byte": (lambda p: (p / "z.png").write_bytes(b"") and None or p / "z.png", "empty"),
    "non-image": (lambda p: (p / "t.png").write_text("hi") and None or p / "t.png", "not an image"),
    "truncated": (_truncated, "cut.png"),
    "too small": (lambda p: save_png(p / "s.png", h=2, w=3), "too small"),
    "absurd size": (lambda p: png_header_only(p / "huge.png", 90000, 90000), "too large"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_infer_bad_inputs(case, tmp_path, tiny_model):
    make, word = BAD_INPUTS[case]
    src = make(tmp_path)
    before = set(os.listdir(tmp_path))
    code, out, err = run("infer.py", src, "--model", tiny_model)
    assert_one_line_error(code, err, word)
    assert set(os.listdir(tmp_path)) == before        # no output, no temp file left
    if case == "missing":
        assert out == ""                              # refused before any model is loaded


def test_infer_unwritable_output(tmp_path, tiny_model):
    src = save_png(tmp_path / "a.png")
    code, _, err = run("infer.py", src, "-o", tmp_path / "no" / "dir" / "a_x2.png",
                       "--model", tiny_model)
    assert_one_line_error(code, err, "does not exist")
    (tmp_path / "file").write_text("")
    code, _, err = run("infer.py", src, "-o", tmp_path / "file" / "a_x2.png", "--model", tiny_model)
    assert_one_line_error(code, err, "a_x2.png")


def test_output_folder_for_a_single_input_is_created(tmp_path, tiny_model):
    src = save_png(tmp_path / "a.png")
    code, out, err = run("infer.py", src, "-o", str(tmp_path / "new" / "out") + os.sep,
                         "--model", tiny_model)
    assert code == 0, err
    assert os.path.isfile(tmp_path / "new" / "out" / "a_x2.png")


def test_self_ensemble_upscales(tmp_path, tiny_model):
    src = save_png(tmp_path / "a.png", h=30, w=42)
    code, out, err = run("infer.py", src, "--model", tiny_model, "--self-ensemble",
                         "-o", tmp_path / "a_x2.png")
    assert code == 0, err
    assert Image.open(tmp_path / "a_x2.png").size == (84, 60)


def test_infer_corrupt_and_mismatched_params(tmp_path, tiny_model):
    src = save_png(tmp_path / "a.png")
    models = os.path.dirname(tiny_model)
    with open(os.path.join(models, "tiny.params"), "r+b") as f:
        f.seek(40)
        f.write(b"\xff" * 16)
    code, _, err = run("infer.py", src, "--model", tiny_model)
    assert_one_line_error(code, err, "tiny.params")
    # A params file of another width than its JSON says.
    other = get_model("edsr", scale=2, channels=4, num_blocks=1)
    other.initialize()
    other(mx.nd.zeros((1, 3, 4, 4)))
    other.save_parameters(os.path.join(models, "tiny.params"))
    code, _, err = run("infer.py", src, "--model", tiny_model)
    assert_one_line_error(code, err, "tiny.params: damaged (sha256 differs")
    # A sidecar without the hash (older models): the shapes still give it away.
    meta = json.load(open(tiny_model))
    del meta["params_sha256"]
    json.dump(meta, open(tiny_model, "w"))
    code, _, err = run("infer.py", src, "--model", tiny_model)
    assert_one_line_error(code, err, "does not match tiny.json")
    code, _, err = run("infer.py", src, "--model", "no_such_model")
    assert_one_line_error(code, err, "no model named 'no_such_model'")
    assert not os.path.exists(tmp_path / "a_x2.png")


def test_train_on_corrupt_shard_and_build_on_missing_folder(image_folder, tmp_path):
    code, _, err = run("data_prep/build.py", "--src", tmp_path / "nowhere", "--out", tmp_path / "o")
    assert_one_line_error(code, err, "not found")
    code, _, err = run("data_prep/build.py", "--src", image_folder, "--out", tmp_path / "sh",
                       "--scale", "2", "--crop", "32", "--crops-per-image", "2", "--quiet")
    assert code == 0, err
    with open(tmp_path / "sh" / "shard_00000.params", "r+b") as f:
        f.seek(100)
        f.write(b"\x00" * 64)
    code, _, err = run("train.py", "--shards", tmp_path / "sh", "--name", "x", "--arch", "edsr",
                       "--channels", "4", "--blocks", "1", "--feat-weight", "0",
                       "--pixel-weight", "1", "--steps", "2", "--batch-size", "2",
                       "--run-dir", tmp_path / "run", "--out-dir", tmp_path / "p", "--quiet")
    assert_one_line_error(code, err, "corrupt shard")
    assert not os.path.exists(tmp_path / "p" / "x.params")


def test_gray_input_gives_gray_output(tmp_path, tiny_model):
    src = save_png(tmp_path / "g.png", mode="L")
    code, _, err = run("infer.py", src, "--model", tiny_model)
    assert code == 0, err
    out = Image.open(tmp_path / "g_x2.png")
    assert out.mode == "L" and out.size == (48, 40)


def test_folder_input_mirrors_subfolders_into_a_sibling_folder(image_folder, tmp_path, tiny_model):
    # Two files of the same name in different subfolders must not overwrite each other.
    save_png(os.path.join(image_folder, "sub", "img0.png"), h=12, w=14)
    code, out, err = run("infer.py", image_folder, "--model", tiny_model)
    assert code == 0, err
    produced = sorted(os.path.relpath(os.path.join(r, f), image_folder + "_x2")
                      for r, _, files in os.walk(image_folder + "_x2") for f in files)
    assert produced == ["img0_x2.png", "img2_x2.png", "img4_x2.png", "sub/img0_x2.png",
                        "sub/img1_x2.png", "sub/img3_x2.png", "sub/img5_x2.png"]
    assert Image.open(os.path.join(image_folder + "_x2", "sub", "img0_x2.png")).size == (28, 24)


@pytest.fixture
def tiny_style(tmp_path):
    net = get_model("transform_net", channels=4, num_blocks=1)
    net.initialize(mx.init.Xavier())
    net(mx.nd.zeros((1, 3, 8, 8)))
    save_model(net, str(tmp_path / "models"), "tiny_style", {"task": "style"})
    return str(tmp_path / "models" / "tiny_style.json")


def test_infer_with_a_style_network(tmp_path, tiny_style):
    src = save_png(tmp_path / "photo.png", h=30, w=42)
    code, out, err = run("infer.py", src, "--style", tiny_style, "--size", "40",
                         "--preserve-color", "--strength", "0.5", "-o", tmp_path / "out.png")
    assert code == 0, err
    assert Image.open(tmp_path / "out.png").size == (40, 29)
    code, _, err = run("infer.py", src, "--style", tiny_style, "--strength", "2")
    assert_one_line_error(code, err, "--strength")
    code, _, err = run("infer.py", src, "--model", tiny_style)
    assert_one_line_error(code, err, "--style")
    code, _, err = run("infer.py", src, "--style", tiny_style, "--self-ensemble")
    assert_one_line_error(code, err, "--self-ensemble")


def test_infer_gatys_optimisation(tmp_path, vgg_file):
    src = save_png(tmp_path / "photo.png", h=24, w=24)
    style = save_png(tmp_path / "painting.png", h=24, w=24, seed=5)
    code, out, err = run("infer.py", src, "--style-image", style, "--optimize", "--iters", "3",
                         "--vgg", vgg_file)
    assert code == 0, err
    assert "iter    1" in out
    assert Image.open(tmp_path / "photo_painting_gatys.png").size == (24, 24)
    code, _, err = run("infer.py", src, "--optimize")
    assert_one_line_error(code, err, "--style-image")


def test_stylised_images_keep_alpha_and_gray_photos_gain_colour(tmp_path, tiny_style):
    rgba = np.zeros((20, 24, 4), np.uint8)
    rgba[..., :3], rgba[..., 3] = 120, 200
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    code, _, err = run("infer.py", tmp_path / "a.png", "--style", tiny_style)
    assert code == 0, err
    out = Image.open(tmp_path / "a_tiny_style.png")
    assert out.mode == "RGBA" and np.asarray(out)[..., 3].min() == 200
    gray = save_png(tmp_path / "g.png", mode="L")
    code, _, err = run("infer.py", gray, "--style", tiny_style)
    assert code == 0, err
    assert Image.open(tmp_path / "g_tiny_style.png").mode == "RGB"


def test_a_flag_of_another_mode_is_an_error_naming_it(tmp_path, tiny_model, tiny_style):
    src = save_png(tmp_path / "a.png")
    code, _, err = run("infer.py", src, "--style", tiny_style, "--iters", "5")
    assert_one_line_error(code, err, "--iters", "does not apply")
    code, _, err = run("infer.py", src, "--style", tiny_style, "--hist-match")
    assert_one_line_error(code, err, "--hist-match")
    code, _, err = run("infer.py", src, "--model", tiny_model, "--strength", "0.5")
    assert_one_line_error(code, err, "--strength")
    code, _, err = run("infer.py", src, "--style", tiny_style, "--model", tiny_model)
    assert_one_line_error(code, err, "--model")
    code, _, err = run("infer.py", src, "--style", tiny_style, "--size", "3")
    assert_one_line_error(code, err, "--size")
    assert os.listdir(tmp_path) == ["a.png", "models"]


def test_int8_runs_tiled_upscaling_and_stylisation(tmp_path, tiny_model, tiny_style):
    """A converted (SymbolBlock) network still has the model's radius, alignment and config."""
    src = save_png(tmp_path / "a.png", h=40, w=36)
    code, _, err = run("infer.py", src, "--model", tiny_model, "--precision", "int8",
                       "--tile", "16", "-o", tmp_path / "up.png")
    assert code == 0, err
    assert Image.open(tmp_path / "up.png").size == (72, 80)
    code, _, err = run("infer.py", src, "--style", tiny_style, "--precision", "int8",
                       "--tile", "16", "-o", tmp_path / "st.png")
    assert code == 0, err
    assert Image.open(tmp_path / "st.png").size == (36, 40)


def test_train_from_a_recipe_file_runs_its_stages(shards, tmp_path):
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"description": "tiny", "stages": [
        {"name": "r", "shards": shards, "model_config": {"channels": 8, "num_blocks": 1},
         "batch_size": 4, "steps": 50, "log_every": 1, "out_dir": str(tmp_path / "out")},
        {"init": "r", "lr": 1e-4}]}))
    code, out, err = run("train.py", "--config", recipe, "--steps", "3", "--quiet",
                         cwd=tmp_path)
    assert code == 0, err
    meta = json.load(open(tmp_path / "out" / "r.json"))
    assert meta["training"]["steps_done"] == 3 and meta["training"]["lr"] == 1e-4
    assert meta["training"]["init"] == "r" and len(meta["training"]["earlier_stages"]) == 1
    assert os.path.isdir(tmp_path / "runs" / "r-stage1") and os.path.isdir(tmp_path / "runs" / "r-stage2")
    code, _, err = run("train.py", "--config", recipe, "--stage", "3", cwd=tmp_path)
    assert_one_line_error(code, err, "--stage 3", "2 stage(s)")
    code, _, err = run("train.py", "--config", recipe, "--style-weight", "1", cwd=tmp_path)
    assert_one_line_error(code, err, "style_weight", "sr task")


def test_the_default_models_are_shipped_ones_of_their_kind():
    import infer
    from gluon_sr.model_store import load_model_description

    assert load_model_description(infer.UPSCALE_MODEL)["task"] == "sr"
    assert load_model_description(infer.ADAIN_MODEL)["task"] == "adain"
    args, mode = infer.parse_args(["photo.jpg", "--style-image", "painting.jpg"])
    assert (mode, args.model) == ("adain", infer.ADAIN_MODEL)
    args, mode = infer.parse_args(["photo.jpg"])
    assert (mode, args.model) == ("upscale", infer.UPSCALE_MODEL)
