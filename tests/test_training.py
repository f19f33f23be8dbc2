import json
import os

import mxnet as mx
import numpy as np
import pytest

from gluon_sr.data.shards import Recipe, build_shards
from gluon_sr.model_store import load_model
from gluon_sr.train import checkpoint
from gluon_sr.train.plotting import read_log
from gluon_sr.train.run import resolve_config, train
from gluon_sr.utils.errors import GluonSRError


def config(shards, tmp_path, name="m", **kw):
    base = dict(shards=shards, name=name, arch="edsr", model_config=dict(channels=8, num_blocks=1),
                steps=12, batch_size=4, lr=3e-3, feat_weight=0.0, pixel_weight=1.0,
                pixel_kind="l1", log_every=3, checkpoint_every=6, warmup=0,
                run_dir=str(tmp_path / "run" / name), out_dir=str(tmp_path / "params"),
                progress=False)
    base.update(kw)
    return resolve_config(base)


def test_short_run_lowers_the_loss_and_writes_everything(shards, tmp_path, image_folder):
    cfg = config(shards, tmp_path, steps=60, log_every=10, val_dir=image_folder, val_every=30,
                 val_images=2)
    json_path = train(cfg, command="python train.py ...")
    records = read_log(os.path.join(cfg.run_dir, "log.jsonl"))
    losses = [r["loss"] for r in records if "loss" in r]
    assert losses[-1] < 0.7 * losses[0]
    assert all(r["samples_per_s"] > 0 for r in records if "loss" in r)
    assert [r["step"] for r in records if "val_psnr" in r] == [30, 60]
    meta = json.load(open(json_path))
    assert meta["arch"] == "edsr" and meta["config"]["scale"] == 2
    assert meta["training"]["steps_done"] == 60 and meta["training"]["shard_manifest_sha256"]
    assert meta["metrics"]["val_images"] == 2
    for f in ("curves.png", "export/m-symbol.json", "export/m-0000.params"):
        assert os.path.exists(os.path.join(cfg.run_dir, f)), f
    net, _ = load_model(json_path)
    assert net(mx.nd.zeros((1, 3, 8, 8))).shape == (1, 3, 16, 16)


def test_killed_run_resumes_to_the_same_parameters(shards, tmp_path, monkeypatch, caplog):
    straight = train(config(shards, tmp_path, name="a"))

    real_save = checkpoint.save_checkpoint

    def save_then_die(*args, **kwargs):
        real_save(*args, **kwargs)
        raise KeyboardInterrupt          # killed right after the step-6 checkpoint
    monkeypatch.setattr(checkpoint, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train(config(shards, tmp_path, name="b"))
    monkeypatch.setattr(checkpoint, "save_checkpoint", real_save)
    with caplog.at_level("INFO", logger="gluon_sr"):
        resumed = train(config(shards, tmp_path, name="b", resume=True))
    assert "resumed b at step 6" in caplog.text

    a = mx.nd.load(straight.replace(".json", ".params"))
    b = mx.nd.load(resumed.replace(".json", ".params"))
    for key in a:
        np.testing.assert_allclose(b[key].asnumpy(), a[key].asnumpy(), rtol=1e-5, atol=1e-6)
    steps = [r["step"] for r in read_log(str(tmp_path / "run" / "b" / "log.jsonl")) if "loss" in r]
    assert steps == [3, 6, 9, 12]


def test_existing_run_needs_resume_and_same_model(shards, tmp_path):
    train(config(shards, tmp_path, steps=6))
    with pytest.raises(GluonSRError, match="--resume"):
        train(config(shards, tmp_path, steps=6))
    with pytest.raises(GluonSRError, match="different model"):
        train(config(shards, tmp_path, steps=6, resume=True,
                     model_config=dict(channels=4, num_blocks=1)))


def test_global_batch_may_use_every_sample_on_several_devices(shards, tmp_path):
    """--batch-size is the global batch: 32 samples make two batches of 16 over 2 devices."""
    path = train(config(shards, tmp_path, ctx="cpu:2", batch_size=32, steps=2))
    assert json.load(open(path))["training"]["steps_done"] == 2


def test_bad_options_are_user_errors(shards, tmp_path):
    with pytest.raises(GluonSRError, match="nothing to learn"):
        train(config(shards, tmp_path, pixel_weight=0.0))
    with pytest.raises(GluonSRError, match="x2"):
        train(config(shards, tmp_path, scale=4))
    with pytest.raises(GluonSRError, match="batch size"):
        train(config(shards, tmp_path, batch_size=1000))


def test_two_cpu_contexts_train_like_one(shards, tmp_path):
    """split_and_load + kvstore over 2 contexts == 1 context with the same global batch."""
    two = train(config(shards, tmp_path, name="two", ctx="cpu:2", steps=3))
    one = train(config(shards, tmp_path, name="one", steps=3))
    assert json.load(open(two))["training"]["devices"] == ["cpu(0)", "cpu(1)"]
    a, b = mx.nd.load(one.replace(".json", ".params")), mx.nd.load(two.replace(".json", ".params"))
    for key in a:
        np.testing.assert_allclose(b[key].asnumpy(), a[key].asnumpy(), rtol=1e-4, atol=1e-6)


def test_perceptual_loss_with_real_vgg(shards, tmp_path, vgg_file):
    cfg = config(shards, tmp_path, arch="srresnet_seed",
                 model_config=dict(channels=8, num_blocks=1), feat_weight=1.0,
                 pixel_weight=0.0, tv_weight=1.0, vgg=vgg_file, steps=3, log_every=3)
    meta = json.load(open(train(cfg)))
    assert meta["vgg"] == {"convention": "caffe", "weights": os.path.basename(vgg_file)}
    record = read_log(os.path.join(cfg.run_dir, "log.jsonl"))[-1]
    assert record["feat"] > 0 and record["tv"] > 0 and np.isfinite(record["loss"])


def test_feature_loss_over_several_layers_is_the_sum_of_each_layers_loss():
    from gluon_sr.archs.vgg import LossVGG16
    from gluon_sr.losses import feature_loss
    from gluon_sr.train.sr_task import SRLoss, SROptions

    vgg = LossVGG16(("relu1_2", "relu2_2"))
    vgg.initialize(mx.init.Xavier())
    out, y = (mx.nd.random.uniform(shape=(2, 3, 16, 16)) for _ in range(2))
    loss_fn = SRLoss(SROptions(shards="s", feat_weight=0.5, feat_layers=("relu1_2", "relu2_2"),
                               pixel_weight=0.0), vgg, 2)
    total, parts = loss_fn(out, y, loss_fn.target_features(y))
    (o1, o2), (t1, t2) = vgg(out).values(), vgg(y).values()
    expected = 0.5 * (feature_loss(mx.nd, o1, t1) + feature_loss(mx.nd, o2, t2)).asnumpy()
    assert expected.shape == (2,) and expected.min() > 0
    np.testing.assert_allclose(parts["feat"].asnumpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(total.asnumpy(), expected, rtol=1e-5)


def test_options_of_the_other_task_are_refused_by_name():
    with pytest.raises(GluonSRError, match="style_weight does not apply to the sr task"):
        resolve_config({"name": "m", "shards": "s", "style_weight": 1.0})
    with pytest.raises(GluonSRError, match="feat_layers does not apply to the style task"):
        resolve_config({"name": "m", "task": "style", "feat_layers": ["relu2_2", "relu3_3"]})


def test_init_from_a_trained_model_starts_from_its_weights(shards, tmp_path):
    first = train(config(shards, tmp_path, name="base", steps=6))
    tuned = train(config(shards, tmp_path, name="tuned", steps=1, lr=1e-9, init=first))
    a, b = mx.nd.load(first.replace(".json", ".params")), mx.nd.load(tuned.replace(".json", ".params"))
    for key in a:
        np.testing.assert_allclose(b[key].asnumpy(), a[key].asnumpy(), atol=1e-6)
    with pytest.raises(GluonSRError, match="differs"):
        train(config(shards, tmp_path, name="other", init=first,
                     model_config=dict(channels=4, num_blocks=1)))


def test_style_training_runs_and_writes_previews(image_folder, tmp_path, vgg_file):
    style = os.path.join(image_folder, "img0.png")
    cfg = resolve_config(dict(
        name="st", task="style", model_config=dict(channels=4, num_blocks=1),
        content=[image_folder], style_image=style, image_size=32, style_weight=1e-3,
        tv_weight=1.0, vgg=vgg_file, steps=4, batch_size=2, log_every=2, checkpoint_every=4,
        val_dir=image_folder, val_every=4, val_images=2, run_dir=str(tmp_path / "run"),
        out_dir=str(tmp_path / "params"), progress=False))
    meta = json.load(open(train(cfg)))
    assert meta["task"] == "style" and meta["style"]["image"] == "img0.png"
    assert meta["metrics"]["val_images"] == 2 and meta["metrics"]["val_style_loss"] > 0
    records = read_log(os.path.join(cfg.run_dir, "log.jsonl"))
    assert {"content", "style", "tv"} <= set(records[0])
    assert os.path.exists(os.path.join(cfg.run_dir, "preview_0000004.png"))
    assert meta["training"]["style_weight"] == 1e-3 and "style_weight_rule" not in meta["training"]


def test_style_weight_defaults_to_the_balance_rule(image_folder, tmp_path, vgg_file):
    cfg = resolve_config(dict(
        name="balanced", task="style", model_config=dict(channels=4, num_blocks=1),
        content=[image_folder], style_image=os.path.join(image_folder, "img0.png"),
        image_size=32, vgg=vgg_file, steps=1, batch_size=2, run_dir=str(tmp_path / "run"),
        out_dir=str(tmp_path / "params"), progress=False))
    training = json.load(open(train(cfg)))["training"]
    rule = training["style_weight_rule"]
    assert rule["content_energy"] > 0 and rule["photo_style_loss"] > 0
    assert training["style_weight"] == pytest.approx(
        rule["balance"] * rule["content_energy"] / rule["photo_style_loss"])
    # --style-balance scales the rule's weight, measured on the same crops.
    from gluon_sr.train.style_task import StyleTask

    settings = dict(name="heavier", task="style", model_config=dict(channels=4, num_blocks=1),
                    content=[image_folder], style_image=os.path.join(image_folder, "img0.png"),
                    image_size=32, vgg=vgg_file, run_dir=str(tmp_path / "run2"),
                    progress=False)
    heavier = StyleTask(resolve_config({**settings, "style_balance": 9.6}), [mx.cpu()])
    assert heavier.style_weight_rule["balance"] == 9.6
    assert heavier.options.style_weight == pytest.approx(training["style_weight"] * 3.2,
                                                         rel=1e-4)
    with pytest.raises(GluonSRError, match="style-balance"):
        StyleTask(resolve_config({**settings, "style_balance": 0}), [mx.cpu()])


def test_style_validation_stops_a_network_that_paints_one_flat_colour(image_folder, tmp_path,
                                                                      vgg_file):
    from gluon_sr.train.style_task import StyleTask

    cfg = resolve_config(dict(
        name="flat", task="style", content=[image_folder], style_weight=1.0,
        style_image=os.path.join(image_folder, "img0.png"), image_size=32, vgg=vgg_file,
        val_dir=image_folder, val_images=2, run_dir=str(tmp_path / "run"), progress=False))
    os.makedirs(cfg.run_dir)
    task = StyleTask(cfg, [mx.cpu()])
    yellow = mx.nd.array([1.0, 1.0, 0.0]).reshape((1, 3, 1, 1))
    with pytest.raises(GluonSRError, match="one flat colour"):
        task.validate(lambda x: mx.nd.broadcast_mul(mx.nd.ones_like(x), yellow), 100, mx.cpu())
    assert task.validate(lambda x: x, 100, mx.cpu())["step"] == 100     # the photo passes


def test_style_load_size_crops_from_larger_photos_and_must_hold_the_crop(image_folder, tmp_path,
                                                                         vgg_file):
    from gluon_sr.train.style_task import StyleTask

    settings = dict(name="zoom", task="style", content=[image_folder], style_weight=1.0,
                    style_image=os.path.join(image_folder, "img0.png"), image_size=32,
                    load_size=48, vgg=vgg_file, val_dir=image_folder, val_images=2,
                    run_dir=str(tmp_path / "run"), progress=False)
    task = StyleTask(resolve_config(settings), [mx.cpu()])
    assert min(task.dataset.images[0].shape[:2]) == 48 and task.dataset[0].shape == (3, 32, 32)
    assert all(v.shape == (32, 32, 3) for v in task.val_images)
    with pytest.raises(GluonSRError, match="load-size"):
        StyleTask(resolve_config({**settings, "load_size": 24}), [mx.cpu()])
    with pytest.raises(GluonSRError, match="load-size"):     # shards are cut already
        StyleTask(resolve_config({**settings, "content": (), "shards": "x"}), [mx.cpu()])


def test_stored_vgg_targets_give_the_same_loss_as_computed_ones(image_folder, tmp_path, vgg_file):
    out = tmp_path / "feat_shards"
    build_shards([image_folder], str(out),
                 Recipe(scale=2, crop=32, crops_per_image=4, blur_sigma=0.5, shard_size=8,
                        vgg_layer="relu2_2"), vgg_weights=vgg_file, progress=False)
    losses = {}
    for stored in (True, False):
        cfg = config(str(out), tmp_path, name=f"s{stored}", arch="srresnet_seed",
                     model_config=dict(channels=8, num_blocks=1), feat_weight=1.0,
                     pixel_weight=0.0, vgg=vgg_file, steps=2, log_every=1, lr=1e-9,
                     augment=False, use_shard_features=stored)
        train(cfg)
        losses[stored] = read_log(os.path.join(cfg.run_dir, "log.jsonl"))[0]["feat"]
    # float16 storage of the targets is the only difference
    assert losses[True] == pytest.approx(losses[False], rel=1e-3)


def test_fine_tuned_model_records_the_stages_behind_it(shards, tmp_path):
    first = train(config(shards, tmp_path, name="a", steps=3), command="cmd a")
    second = train(config(shards, tmp_path, name="b", steps=2, init=first), command="cmd b")
    third = train(config(shards, tmp_path, name="c", steps=2, init=second), command="cmd c")
    stages = json.load(open(third))["training"]["earlier_stages"]
    assert [s["command"] for s in stages] == ["cmd a", "cmd b"]
    assert [s["steps_done"] for s in stages] == [3, 2]


def test_step_schedule_decays_at_its_milestones_to_lr_final():
    from gluon_sr.train.schedule import make_schedule

    schedule = make_schedule(100, 1.0, "step", lr_final=0.01, warmup=10)
    assert schedule(0) == pytest.approx(1e-3) and schedule(10) == pytest.approx(1.0)
    assert schedule(49) == pytest.approx(1.0) and schedule(50) == pytest.approx(0.1)
    assert schedule(74) == pytest.approx(0.1) and schedule(75) == pytest.approx(0.01)
    assert schedule(99) == pytest.approx(0.01)
    cosine = make_schedule(100, 1.0, "cosine", lr_final=0.02, warmup=10)
    assert cosine(99) == pytest.approx(0.02) and cosine(10) == pytest.approx(1.0)


def test_lr_final_does_not_apply_to_a_constant_rate(shards, tmp_path):
    with pytest.raises(GluonSRError, match="--lr-final does not apply"):
        config(shards, tmp_path, lr_mode="constant", lr_final=0.1).validate()
    assert config(shards, tmp_path, lr_mode="constant", lr_final=None).final_lr_fraction() == 1.0


def test_tasks_implement_the_task_interface():
    import inspect

    from gluon_sr.train.task import Task
    from gluon_sr.train.tasks import TASKS

    wanted = [name for name, member in inspect.getmembers(Task) if inspect.isfunction(member)
              and not name.startswith("_")]
    assert wanted == ["auxiliary_step", "batches", "checkpoint_files", "example_input",
                      "final_net", "losses", "meta", "trains_net", "validate"]
    for task in TASKS.values():
        for name in wanted:
            params = list(inspect.signature(getattr(task, name)).parameters)
            assert params == list(inspect.signature(getattr(Task, name)).parameters), (task, name)
        assert isinstance(task.recipe, dict) and hasattr(task.Options, "validate")


def test_recipe_stages_inherit_and_flags_override(tmp_path):
    from gluon_sr.train.config import read_recipe

    path = tmp_path / "r.json"
    path.write_text(json.dumps({"description": "x", "stages": [
        {"name": "m", "shards": "s", "steps": 100, "lr": 4e-4},
        {"init": "m", "steps": 50}]}))
    stages = read_recipe(str(path))
    assert stages == [{"name": "m", "shards": "s", "steps": 100, "lr": 4e-4},
                      {"name": "m", "shards": "s", "steps": 50, "lr": 4e-4, "init": "m"}]
    cfg = resolve_config({**stages[1], "steps": 20})
    assert (cfg.steps, cfg.lr, cfg.init, cfg.arch) == (20, 4e-4, "m", "edsr")
    assert cfg.model_config == {"channels": 64, "num_blocks": 16}      # the SR recipe
    path.write_text("[1, 2]")
    with pytest.raises(GluonSRError, match="JSON object"):
        read_recipe(str(path))


@pytest.mark.parametrize("recipe", sorted(os.listdir(os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs"))))
def test_every_shipped_recipe_resolves(recipe):
    """Each stage of each recipe in configs/ is a valid configuration of its task, and names a
    shipped model."""
    from conftest import REPO
    from gluon_sr.train.config import read_recipe

    stages = read_recipe(os.path.join(REPO, "configs", recipe))
    for stage in stages:
        cfg = resolve_config(stage, recipe)
        cfg.validate()
        cfg.options.validate()
    assert os.path.exists(os.path.join(REPO, "params", stages[0]["name"] + ".json"))


def test_stage_logs_plot_end_to_end_with_each_stage_counted_on(tmp_path):
    from gluon_sr.train.plotting import main as plot_main, read_stages

    logs = []
    for number, steps in enumerate(((10, 20), (10, 20, 30)), start=1):
        path = tmp_path / f"stage{number}.jsonl"
        path.write_text("".join(json.dumps({"step": s, "loss": 1.0 / s, "style": 0.5 / s}) + "\n"
                                for s in steps) + json.dumps({"step": steps[-1], "val_style": 0.1,
                                                              "val_content": 0.2}) + "\n")
        logs.append(str(path))
    records, starts = read_stages(logs)
    assert [r["step"] for r in records if "loss" in r] == [10, 20, 30, 40, 50]
    assert starts == [20] and records[-1] == {"step": 50, "val_style": 0.1, "val_content": 0.2}
    resumed = tmp_path / "stage1_resumed.jsonl"      # a stage that resumes stage 1's run
    resumed.write_text("".join(json.dumps({"step": s, "loss": 1.0}) + "\n" for s in (30, 40)))
    records, starts = read_stages([logs[0], str(resumed), logs[1]])
    assert [r["step"] for r in records if "loss" in r] == [10, 20, 30, 40, 50, 60, 70]
    assert starts == [20, 40]
    out = tmp_path / "curves.png"
    assert plot_main([*logs, "--out", str(out), "--title", "two stages"]) == 0
    assert out.stat().st_size > 0
    with pytest.raises(GluonSRError, match="no such log"):
        plot_main([str(tmp_path / "missing.jsonl"), "--out", str(out)])
