"""What a demanding user does to a tool: kills, damaged files, hostile inputs, full disks.

Each test here failed before its fix (the campaign in issue 20)."""
import json
import os
import pickle
import zlib

import mxnet as mx
import numpy as np
import pytest
from PIL import Image

from conftest import (assert_one_line_error, png_header_only, run_script as run, save_png)
from gluon_sr.archs import get_model
from gluon_sr.infer.outputs import output_path
from gluon_sr.model_store import load_model, save_model
from gluon_sr.train import checkpoint
from gluon_sr.train.lock import RunLock
from gluon_sr.train.run import resolve_config, train
from gluon_sr.utils.errors import GluonSRError
from gluon_sr.utils.imageio import read_image


def config(shards, tmp_path, name="r", **kw):
    base = dict(shards=shards, name=name, model_config=dict(channels=8, num_blocks=1),
                steps=10, batch_size=4, lr=3e-3, warmup=0, log_every=20, checkpoint_every=5,
                run_dir=str(tmp_path / "run" / name), out_dir=str(tmp_path / "out"),
                progress=False)
    base.update(kw)
    return resolve_config(base)


@pytest.fixture
def tiny_model(tmp_path):
    net = get_model("edsr", scale=2, channels=8, num_blocks=1)
    net.initialize()
    net(mx.nd.zeros((1, 3, 4, 4)))
    return save_model(net, str(tmp_path / "models"), "tiny", {"task": "sr"})


def flip_byte(path, offset=None):
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2 if offset is None else offset] ^= 0xFF
    open(path, "wb").write(bytes(data))


# ----------------------------------------------------------------------- training state

def test_a_diverging_run_never_checkpoints_non_finite_weights(shards, tmp_path):
    train(config(shards, tmp_path, steps=10))
    # The lr schedule is the run's own, so resuming with an absurd one makes it diverge.
    with pytest.raises(GluonSRError, match="by step 15; lower --lr .*step 10, is intact"):
        train(config(shards, tmp_path, steps=40, lr=1e30, resume=True))
    run_dir = str(tmp_path / "run" / "r")
    assert checkpoint.read_latest(run_dir)["step"] == 10
    for f in os.listdir(run_dir):
        if f.endswith(".params"):
            assert all(np.isfinite(v.asnumpy()).all()
                       for v in mx.nd.load(os.path.join(run_dir, f)).values()), f
    # ... and the run can be recovered from there.
    path = train(config(shards, tmp_path, steps=20, resume=True))
    assert json.load(open(path))["training"]["steps_done"] == 20


def test_damaged_checkpoint_files_are_refused_by_name(shards, tmp_path):
    cfg = config(shards, tmp_path, steps=5)
    train(cfg)
    latest = checkpoint.read_latest(cfg.run_path())
    for suffix in (".params", ".states"):
        path = os.path.join(cfg.run_path(), latest["stem"] + suffix)
        original = open(path, "rb").read()
        flip_byte(path)
        with pytest.raises(GluonSRError, match=f"{latest['stem']}\\{suffix}: checkpoint file damaged"):
            train(config(shards, tmp_path, steps=8, resume=True))
        open(path, "wb").write(original)


def test_a_crafted_states_file_is_never_unpickled(shards, tmp_path):
    cfg = config(shards, tmp_path, steps=5)
    train(cfg)
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))
    states = os.path.join(cfg.run_path(), checkpoint.read_latest(cfg.run_path())["stem"] + ".states")
    with open(states, "wb") as f:
        pickle.dump(Payload(), f)
    with pytest.raises(GluonSRError, match="damaged"):
        train(config(shards, tmp_path, steps=8, resume=True))
    assert not marker.exists()


def test_a_damaged_model_file_is_refused(tiny_model, tmp_path):
    flip_byte(tiny_model.replace(".json", ".params"), offset=-20)
    with pytest.raises(GluonSRError, match="tiny.params: damaged"):
        load_model(tiny_model)


def test_resuming_a_finished_run_writes_its_model_again(shards, tmp_path):
    first = train(config(shards, tmp_path, steps=5))
    os.unlink(first)
    again = train(config(shards, tmp_path, steps=5, resume=True))
    assert again == first and json.load(open(again))["training"]["steps_done"] == 5
    assert os.path.exists(os.path.join(str(tmp_path / "run" / "r"), "export", "r-symbol.json"))


def test_a_torn_last_log_line_does_not_block_resume(shards, tmp_path):
    cfg = config(shards, tmp_path, steps=5, log_every=1)
    train(cfg)
    log_path = os.path.join(cfg.run_path(), "log.jsonl")
    with open(log_path, "a") as f:
        f.write('{"step": 6, "lo')
    train(config(shards, tmp_path, steps=7, log_every=1, resume=True))
    steps = [json.loads(line)["step"] for line in open(log_path)]
    assert steps == [1, 2, 3, 4, 5, 6, 7]


def test_a_run_folder_in_use_is_refused_with_the_holders_pid(shards, tmp_path):
    cfg = config(shards, tmp_path, steps=3)
    os.makedirs(cfg.run_path())
    with RunLock(cfg.run_path(), "r"):
        with pytest.raises(GluonSRError, match=f"pid {os.getpid()}"):
            train(cfg)
    # A lock file left by a dead process holds no lock.
    with open(os.path.join(cfg.run_path(), ".lock"), "w") as f:
        f.write("999999")
    assert train(cfg)


def test_stale_temporary_files_of_dead_processes_are_cleaned(tmp_path, tiny_model):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".tmp-999999-abc.png").write_bytes(b"")           # a killed writer's leftover
    (out / f".tmp-{os.getppid()}-live.png").write_bytes(b"")   # a live process's: kept
    src = save_png(tmp_path / "a.png")
    code, _, err = run("infer.py", src, "--model", tiny_model, "-o", out)
    assert code == 0, err
    assert sorted(os.listdir(out)) == [f".tmp-{os.getppid()}-live.png", "a_x2.png"]


# ----------------------------------------------------------------------- inputs, outputs

def ztxt_bomb(path):
    """A valid small PNG with a zTXt chunk that decompresses past Pillow's limit."""
    save_png(path)
    raw = open(path, "rb").read()
    payload = b"Comment\0\0" + zlib.compress(b"A" * (64 << 20))
    chunk = (len(payload).to_bytes(4, "big") + b"zTXt" + payload
             + zlib.crc32(b"zTXt" + payload).to_bytes(4, "big"))
    open(path, "wb").write(raw[:33] + chunk + raw[33:])
    return str(path)


def test_decoder_errors_are_one_line_per_file_and_the_batch_goes_on(tmp_path, tiny_model,
                                                                    image_folder):
    import gluoncv.data  # noqa: F401  (sets Pillow's LOAD_TRUNCATED_IMAGES, as training does)

    bomb = ztxt_bomb(tmp_path / "bomb.png")
    with pytest.raises(GluonSRError, match="bomb.png"):
        read_image(bomb)
    good = save_png(tmp_path / "good.png")
    code, _, err = run("infer.py", bomb, good, "-o", tmp_path / "o", "--model", tiny_model)
    assert code == 2 and "bomb.png" in err.splitlines()[0] and "Traceback" not in err
    assert os.listdir(tmp_path / "o") == ["good_x2.png"]
    ztxt_bomb(os.path.join(image_folder, "zbomb.png"))
    code, out, err = run("data_prep/build.py", "--src", image_folder, "--out", tmp_path / "sh",
                         "--scale", "2", "--crop", "32", "--crops-per-image", "1", "--quiet")
    assert code == 0, err
    skipped = json.load(open(tmp_path / "sh" / "manifest.json"))["skipped"]
    assert any(s["file"] == "zbomb.png" for s in skipped)


def test_huge_images_are_refused_from_the_header(tmp_path, tiny_model):
    # The file holds almost no pixel data: decoding would fail as "truncated", so these
    # messages show the refusal came first, from the header.
    huge = png_header_only(tmp_path / "huge.png", 14000, 14000)
    code, _, err = run("infer.py", huge, "--model", tiny_model)
    assert_one_line_error(code, err, "huge.png", "too large", "--max-pixels")
    wide = png_header_only(tmp_path / "wide.png", 15000, 8000)
    code, _, err = run("infer.py", wide, "--model", tiny_model, "--max-pixels", "200000000")
    assert_one_line_error(code, err, "wide.png", "output would be 30000x16000")
    net = get_model("transform_net", channels=4, num_blocks=1)
    net.initialize()
    net(mx.nd.zeros((1, 3, 8, 8)))
    style = save_model(net, str(tmp_path / "models"), "st", {"task": "style"})
    code, _, err = run("infer.py", huge, "--style", style)
    assert_one_line_error(code, err, "huge.png", "too large")


def test_a_missing_file_fails_alone_in_a_batch(tmp_path, tiny_model):
    a, b = save_png(tmp_path / "a.png"), save_png(tmp_path / "b.png", seed=1)
    code, _, err = run("infer.py", a, tmp_path / "missing.png", b, "-o", tmp_path / "o",
                       "--model", tiny_model)
    assert code == 2 and "missing.png: no such file" in err, err
    assert sorted(os.listdir(tmp_path / "o")) == ["a_x2.png", "b_x2.png"]


def test_a_folder_is_mirrored_into_plain_paths():
    assert output_path(os.path.join("photos", "a.png"), "photos", "out", "x2", False) == \
        os.path.join("out", "a_x2.png")                 # not out/./a_x2.png
    assert output_path(os.path.join("photos", "sub", "a.png"), "photos" + os.sep, None, "x2",
                       False) == os.path.join("photos_x2", "sub", "a_x2.png")


def test_same_names_from_two_folders_never_overwrite_each_other(tmp_path, tiny_model):
    (tmp_path / "d1").mkdir()
    (tmp_path / "d2").mkdir()
    first = save_png(tmp_path / "d1" / "x.png")
    second = save_png(tmp_path / "d2" / "x.png", seed=3)
    code, _, err = run("infer.py", first, second, "-o", tmp_path / "o", "--model", tiny_model)
    assert code == 2 and "d2/x.png" in err and "would replace" in err, err
    written = np.asarray(Image.open(tmp_path / "o" / "x_x2.png"))
    code, _, _ = run("infer.py", first, "-o", tmp_path / "ref.png", "--model", tiny_model)
    np.testing.assert_array_equal(written, np.asarray(Image.open(tmp_path / "ref.png")))


def test_float_tiffs_keep_their_values(tmp_path):
    values = np.linspace(0, 1, 12 * 10, dtype=np.float32).reshape(12, 10)
    Image.fromarray(values, mode="F").save(tmp_path / "f.tif")
    image = read_image(str(tmp_path / "f.tif"))
    np.testing.assert_allclose(image.rgb[..., 0], values, atol=1e-6)
    assert image.gray


def test_option_ranges_are_checked_when_parsing(tmp_path, tiny_model):
    src = save_png(tmp_path / "a.png")
    code, _, err = run("infer.py", src, "--style-image", src, "--optimize", "--iters", "-1")
    assert_one_line_error(code, err, "--iters")
    code, _, err = run("infer.py", src, "--model", tiny_model, "--tile", "-5")
    assert_one_line_error(code, err, "--tile")


def test_garbage_in_a_sidecar_is_a_corrupt_model_error(tmp_path, tiny_model):
    meta = json.load(open(tiny_model))
    meta["training"] = {"feat_weight": "x"}
    json.dump(meta, open(tiny_model, "w"))
    code, _, err = run("infer.py", save_png(tmp_path / "a.png"), "--model", tiny_model)
    assert_one_line_error(code, err, "corrupt model description")


def test_broken_onnx_metadata_is_a_corrupt_model_error():
    from gluon_sr.deploy.onnx_backend import parse_description

    with pytest.raises(GluonSRError, match="m.onnx: corrupt gluon-sr description"):
        parse_description("{not json", "m.onnx")
    with pytest.raises(GluonSRError, match="corrupt"):
        parse_description('{"config": 3}', "m.onnx")


def test_build_output_problems_are_user_errors(image_folder, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    for out, words in ((tmp_path / "file", "not a folder"),
                       (tmp_path / "file" / "sub", "cannot create folder")):
        code, _, err = run("data_prep/build.py", "--src", image_folder, "--out", out,
                           "--scale", "2", "--crop", "32", "--quiet")
        assert_one_line_error(code, err, words)
    # A full disk: MXNet's save fails with an MXNetError carrying a C++ trace.
    from gluon_sr.data.shards import Recipe, build_shards

    def full_disk(*_):
        raise mx.base.MXNetError("[12:00:00] src/io.cc:1: Check failed: No space left on device")
    monkeypatch.setattr(mx.nd, "save", full_disk)
    with pytest.raises(GluonSRError, match="shard_00000.params: cannot write .*No space left"):
        build_shards([image_folder], str(tmp_path / "s"), Recipe(scale=2, crop=32),
                     progress=False)
    assert not [f for f in os.listdir(tmp_path / "s") if f.startswith(".tmp")]


def test_special_files_and_line_breaks_in_names(tmp_path, tiny_model):
    fifo = tmp_path / "x.png"
    os.mkfifo(fifo)
    code, _, err = run("infer.py", fifo, "--model", tiny_model)
    assert_one_line_error(code, err, "not a regular file")
    odd = tmp_path / "two\nlines.png"
    odd.write_text("not an image")
    code, _, err = run("infer.py", odd, "--model", tiny_model)
    assert_one_line_error(code, err, "two\\nlines.png")
