"""Discriminators, adversarial losses (against numpy references) and the GAN training task."""
import json
import os

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, nd

from conftest import phase_detail_means

from gluon_sr.archs import get_model
from gluon_sr.archs.discriminator import SelfAttention, SpectralNormConv2D
from gluon_sr.gan_losses import (GAN_KINDS, discriminator_loss, feature_matching_loss,
                                 generator_loss)
from gluon_sr.train import checkpoint
from gluon_sr.train.plotting import read_log
from gluon_sr.train.run import resolve_config, train


def _softplus(x):
    return np.logaddexp(0, x)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def numpy_d_loss(kind, real, fake):
    """Per sample, one scale: the textbook formulas."""
    mean = lambda a: a.reshape(len(a), -1).mean(axis=1)   # noqa: E731
    if kind == "vanilla":
        return mean(-np.log(_sigmoid(real))) + mean(-np.log(1 - _sigmoid(fake)))
    if kind == "lsgan":
        return mean((real - 1) ** 2) + mean(fake ** 2)
    if kind == "hinge":
        return mean(np.maximum(0, 1 - real)) + mean(np.maximum(0, 1 + fake))
    # ragan: BCE(real - E[fake], 1) + BCE(fake - E[real], 0)
    return (mean(-np.log(_sigmoid(real - fake.mean(axis=0)))) +
            mean(-np.log(1 - _sigmoid(fake - real.mean(axis=0)))))


def numpy_g_loss(kind, real, fake):
    mean = lambda a: a.reshape(len(a), -1).mean(axis=1)   # noqa: E731
    if kind == "vanilla":
        return mean(-np.log(_sigmoid(fake)))
    if kind == "lsgan":
        return mean((fake - 1) ** 2)
    if kind == "hinge":
        return mean(-fake)
    return (mean(-np.log(1 - _sigmoid(real - fake.mean(axis=0)))) +
            mean(-np.log(_sigmoid(fake - real.mean(axis=0)))))


def as_output(logits, features=()):
    return [[nd.array(f) for f in features] + [nd.array(logits)]]


@pytest.mark.parametrize("kind", GAN_KINDS)
def test_gan_losses_match_numpy(kind):
    rng = np.random.default_rng(0)
    real = rng.normal(1, 2, (3, 1, 5, 4)).astype(np.float32)
    fake = rng.normal(-1, 2, (3, 1, 5, 4)).astype(np.float32)
    d = discriminator_loss(nd, kind, as_output(real), as_output(fake)).asnumpy()
    g = generator_loss(nd, kind, as_output(fake), as_output(real)).asnumpy()
    np.testing.assert_allclose(d, numpy_d_loss(kind, real, fake), rtol=1e-5)
    np.testing.assert_allclose(g, numpy_g_loss(kind, real, fake), rtol=1e-5)


def test_losses_average_over_scales():
    rng = np.random.default_rng(1)
    real = [rng.normal(size=(2, 1, 6, 6)).astype(np.float32) for _ in range(2)]
    fake = [rng.normal(size=(2, 1, 3, 3)).astype(np.float32) for _ in range(2)]
    outs = lambda maps: [[nd.array(m)] for m in maps]   # noqa: E731
    got = discriminator_loss(nd, "lsgan", outs([real[0], fake[0]]), outs([real[1], fake[1]]))
    want = (numpy_d_loss("lsgan", real[0], real[1]) + numpy_d_loss("lsgan", fake[0], fake[1])) / 2
    np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-5)


def test_non_saturating_generator_gradient_survives_a_confident_discriminator():
    # D is sure the fakes are fake (logit -15, D = 3e-7): log(1 - D) would pass a gradient of
    # about D = 3e-7; the non-saturating -log D passes about 1 (per patch, before the mean).
    fake = nd.full((1, 1, 2, 2), -15.0)
    fake.attach_grad()
    with autograd.record():
        loss = generator_loss(nd, "vanilla", [[fake]])
    loss.backward()
    assert np.all(np.abs(fake.grad.asnumpy()) > 0.2)
    with autograd.record():
        saturating = -discriminator_loss(nd, "vanilla", [[nd.full((1, 1, 2, 2), 15.0)]], [[fake]])
    saturating.backward()
    assert np.all(np.abs(fake.grad.asnumpy()) < 1e-5)


def test_feature_matching_is_the_mean_l1_of_intermediate_features():
    rng = np.random.default_rng(2)
    f1, r1 = rng.normal(size=(2, 4, 5, 5)), rng.normal(size=(2, 4, 5, 5))
    f2, r2 = rng.normal(size=(2, 8, 3, 3)), rng.normal(size=(2, 8, 3, 3))
    logits = np.zeros((2, 1, 2, 2))
    got = feature_matching_loss(nd, as_output(logits, [f1, f2]), as_output(logits + 5, [r1, r2]))
    want = (np.abs(f1 - r1).mean(axis=(1, 2, 3)) + np.abs(f2 - r2).mean(axis=(1, 2, 3))) / 2
    np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-5)


def test_spectral_norm_divides_by_the_largest_singular_value():
    conv = SpectralNormConv2D(6, 3, 4, 2, 1)
    conv.initialize()
    # A weight with a clear spectral gap, so a few power iterations find sigma.
    rng = np.random.default_rng(3)
    u, _, vt = np.linalg.svd(rng.normal(size=(6, 48)), full_matrices=False)
    weight = (u * np.array([5.0, 1, 0.5, 0.4, 0.3, 0.2])) @ vt
    conv.weight.set_data(nd.array(weight.reshape(6, 3, 4, 4)))
    for _ in range(20):
        conv.power_iteration()
    assert conv.sigma() == pytest.approx(5.0, rel=1e-4)
    x = nd.array(rng.normal(size=(1, 3, 8, 8)))
    plain = nd.Convolution(x, nd.array(weight.reshape(6, 3, 4, 4) / 5.0), conv.bias.data(),
                           kernel=(4, 4), stride=(2, 2), pad=(1, 1), num_filter=6)
    np.testing.assert_allclose(conv(x).asnumpy(), plain.asnumpy(), rtol=1e-3, atol=1e-4)


def test_spectral_state_is_saved_with_the_weights(tmp_path):
    d = get_model("patchgan", ndf=8)
    d.initialize()
    d(nd.zeros((1, 3, 32, 32)))
    for _ in range(3):
        d.power_iteration()
    d.save_parameters(str(tmp_path / "d.params"))
    e = get_model("patchgan", ndf=8)
    e.load_parameters(str(tmp_path / "d.params"))
    saved = {k: v for k, v in d.collect_params().items() if k.endswith("_u")}
    assert saved
    for key, value in saved.items():
        np.testing.assert_array_equal(e.collect_params()[key.replace(d.prefix, e.prefix, 1)]
                                      .data().asnumpy(), value.data().asnumpy())


def test_patchgan_has_a_70_pixel_receptive_field_and_multiscale_returns_each_scale():
    d = get_model("patchgan", norm="none")
    d.initialize(mx.init.Constant(0.01))
    x = nd.zeros((1, 3, 160, 160))
    x.attach_grad()
    with autograd.record():
        logits = d(x)[0][-1]
        centre = logits[0, 0, logits.shape[2] // 2, logits.shape[3] // 2]
    centre.backward()
    rows = np.nonzero(np.abs(x.grad.asnumpy()[0]).sum(axis=(0, 2)))[0]
    assert rows.max() - rows.min() + 1 == 70
    multi = get_model("multiscale_patchgan", ndf=8, num_d=3, attention_at=2)
    multi.initialize()
    multi.hybridize()
    out = multi(nd.zeros((2, 3, 64, 64)))
    assert len(out) == 3 and all(len(scale) == 5 for scale in out)
    assert [scale[-1].shape[2] for scale in out] == [11, 7, 5]   # 64, 32, 16 px in


def test_self_attention_starts_as_the_identity():
    block = SelfAttention(16)
    block.initialize()
    x = nd.random.normal(shape=(2, 16, 6, 5))
    np.testing.assert_array_equal(block(x).asnumpy(), x.asnumpy())


def gan_config(shards, tmp_path, name, parent, **kw):
    base = dict(task="gan", shards=shards, name=name, arch="edsr", init=parent,
                model_config=dict(channels=8, num_blocks=1), steps=8, batch_size=4, lr=1e-3,
                feat_weight=0.0, pixel_weight=1.0, gan_weight=0.1, fm_weight=1.0,
                disc_config=dict(ndf=8, n_layers=2), log_every=2, checkpoint_every=4,
                warmup=0, patch=16, run_dir=str(tmp_path / "run" / name),
                out_dir=str(tmp_path / "params"), progress=False)
    base.update(kw)
    return resolve_config(base)


@pytest.fixture
def parent(shards, tmp_path):
    cfg = resolve_config(dict(shards=shards, name="parent", arch="edsr",
                              model_config=dict(channels=8, num_blocks=1), steps=4, batch_size=4,
                              run_dir=str(tmp_path / "run" / "parent"),
                              out_dir=str(tmp_path / "params"), progress=False))
    return train(cfg)


def test_gan_run_logs_both_nets_records_its_parent_and_resumes_exactly(shards, tmp_path, parent,
                                                                       monkeypatch, image_folder):
    straight = train(gan_config(shards, tmp_path, "a", parent, d_warmup=2, val_dir=image_folder,
                                val_images=2, val_every=4))
    log = read_log(str(tmp_path / "run" / "a" / "log.jsonl"))
    assert [r["step"] for r in log if "val_psnr" in r] == [4, 8]
    assert os.path.exists(tmp_path / "run" / "a" / "preview_0000008.png")
    records = [r for r in log if "loss" in r]
    assert {"gan", "fm", "pix", "d_loss", "d_real", "d_fake"} <= set(records[-1])
    assert records[-1]["loss"] == pytest.approx(records[-1]["gan"] + records[-1]["fm"] +
                                                records[-1]["pix"], rel=1e-5)
    meta = json.load(open(straight))
    assert meta["parent"] == parent and meta["training"]["discriminator"]["arch"] == "patchgan"

    real_save = checkpoint.save_checkpoint

    def save_then_die(*args, **kwargs):
        real_save(*args, **kwargs)
        raise KeyboardInterrupt
    monkeypatch.setattr(checkpoint, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train(gan_config(shards, tmp_path, "b", parent, d_warmup=2))
    monkeypatch.setattr(checkpoint, "save_checkpoint", real_save)
    assert os.path.exists(tmp_path / "run" / "b" / "ckpt-0000004.d.states")
    resumed = train(gan_config(shards, tmp_path, "b", parent, d_warmup=2, resume=True))
    a = mx.nd.load(straight.replace(".json", ".params"))
    b = mx.nd.load(resumed.replace(".json", ".params"))
    for key in a:
        np.testing.assert_allclose(b[key].asnumpy(), a[key].asnumpy(), rtol=1e-5, atol=1e-6)


def test_a_resumed_discriminator_takes_the_recipes_learning_rate(shards, tmp_path, parent):
    """Its saved states carry the old optimiser; --d-lr given on resume must win."""
    from gluon_sr.train.gan_task import GANTask

    task = GANTask(gan_config(shards, tmp_path, "lr", parent, d_lr=3e-4), [mx.cpu()])
    save, load = task.checkpoint_files()[".d.states"]
    task.d_trainer.set_learning_rate(1e-2)
    save(str(tmp_path / "d.states"))
    load(str(tmp_path / "d.states"))
    assert task.d_trainer.learning_rate == pytest.approx(3e-4)


def test_gan_trains_on_two_devices(shards, tmp_path, parent):
    out = train(gan_config(shards, tmp_path, "two", parent, ctx="cpu:2"))
    params = mx.nd.load(out.replace(".json", ".params"))
    assert all(np.isfinite(v.asnumpy()).all() for v in params.values())


def test_d_warmup_leaves_the_generator_and_ema_at_the_parent(shards, tmp_path, parent):
    out = train(gan_config(shards, tmp_path, "w", parent, steps=4, d_warmup=4))
    a = mx.nd.load(parent.replace(".json", ".params"))
    b = mx.nd.load(out.replace(".json", ".params"))
    for key in a:
        np.testing.assert_array_equal(b[key].asnumpy(), a[key].asnumpy())


def test_interp_blends_the_gan_model_with_its_parent(shards, tmp_path, parent):
    from gluon_sr.infer.loader import load_for_inference
    from gluon_sr.utils.errors import GluonSRError

    gan = train(gan_config(shards, tmp_path, "g", parent, steps=4, ema_decay=0.0, lr=1e-2))
    x = np.random.default_rng(0).uniform(0, 1, (1, 3, 12, 12)).astype(np.float32)
    outputs = {name: load_for_inference(name).forward(x) for name in (parent, gan)}
    assert np.abs(outputs[gan] - outputs[parent]).max() > 1e-3
    np.testing.assert_allclose(load_for_inference(gan, interp=0.0).forward(x), outputs[parent],
                               atol=1e-5)
    np.testing.assert_allclose(load_for_inference(gan, interp=1.0).forward(x), outputs[gan],
                               atol=1e-5)
    half = load_for_inference(gan, "auto", "auto", interp=0.5)
    assert "0.5 x" in half.note
    with pytest.raises(GluonSRError, match="no parent"):
        load_for_inference(parent, interp=0.5)
    with pytest.raises(GluonSRError, match="MXNet fp32"):
        load_for_inference(gan, "openvino", interp=0.5)


def test_periodic_loss_is_the_squared_difference_of_per_phase_detail_means():
    from gluon_sr.losses import periodic_loss

    rng = np.random.default_rng(4)
    pred, target = rng.uniform(size=(2, 3, 16, 20)), rng.uniform(size=(2, 3, 16, 20))
    want = ((phase_detail_means(pred, 4) - phase_detail_means(target, 4)) ** 2).mean(axis=(1, 2, 3))
    got = periodic_loss(nd, nd.array(pred), nd.array(target), 4).asnumpy()
    np.testing.assert_allclose(got, want, rtol=1e-4)
    y, x = np.mgrid[:16, :20]
    grid = target + ((y % 4 == 1) & (x % 4 == 2)) * 0.2
    assert periodic_loss(nd, nd.array(grid), nd.array(target), 4).asnumpy().min() > \
        100 * periodic_loss(nd, nd.array(target + 0.01 * rng.normal(size=target.shape)),
                            nd.array(target), 4).asnumpy().max()
