"""Distilling the AdaIN decoder into a narrower one: channel selection and the teacher term."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import nd

from gluon_sr.archs import get_model
from gluon_sr.train.plotting import read_log
from gluon_sr.train.run import resolve_config, train
from gluon_sr.utils.errors import GluonSRError


def _decoder(width, seed):
    mx.random.seed(seed)
    net = get_model("adain_decoder", width=width)
    net.initialize(mx.init.Xavier())
    net(nd.zeros((1, 512, 2, 2)))
    return net


def test_narrowing_keeps_the_channels_that_carry_the_signal():
    # A decoder at width 0.25 with half of every hidden layer's channels dead (no weights in or
    # out): the width-0.125 decoder narrowed from it must draw exactly what it draws.
    wide = _decoder(0.25, seed=0)
    rng = np.random.default_rng(0)
    convs = list(wide.convs)
    wide.input_scale.set_data(nd.array(rng.uniform(0.5, 2, (1, 512, 1, 1))))
    for conv, following in zip(convs[:-1], convs[1:]):
        dead = rng.permutation(conv.weight.shape[0])[:conv.weight.shape[0] // 2]
        w, b, nxt = (p.data().asnumpy() for p in (conv.weight, conv.bias, following.weight))
        w[dead], b[dead], nxt[:, dead] = 0, 0, 0
        conv.weight.set_data(nd.array(w)), conv.bias.set_data(nd.array(b))
        following.weight.set_data(nd.array(nxt))
    narrow = _decoder(0.125, seed=1)
    narrow.narrowed_from(wide)
    x = nd.array(rng.uniform(0, 3, (1, 512, 3, 4)))
    np.testing.assert_allclose(narrow(x).asnumpy(), wide(x).asnumpy(), rtol=1e-5, atol=1e-6)
    assert narrow.convs[0].weight.shape[0] == wide.convs[0].weight.shape[0] // 2
    with pytest.raises(ValueError, match="at least as wide"):
        wide.narrowed_from(narrow)


def _distill_settings(tmp_path, image_folder, vgg_file, trained, **changes):
    return {**dict(
        task="adain", name="fast", content=(image_folder,), styles=image_folder, load_size=64,
        image_size=32, model_config=dict(width=0.0625), init=trained, teacher=trained,
        teacher_weight=2.0, feat_weight=0.0, style_weight=0.0, steps=30, batch_size=4, lr=2e-3,
        log_every=10, checkpoint_every=30, val_every=30, vgg=vgg_file, val_dir=image_folder,
        val_style_dir=image_folder, val_images=2, run_dir=str(tmp_path / "run"),
        out_dir=str(tmp_path / "params"), progress=False), **changes}


def test_distillation_lowers_the_teacher_term_without_the_perceptual_terms(
        tmp_path, image_folder, vgg_file, tiny_decoder):
    from gluon_sr.train.adain_task import AdaINTask

    settings = _distill_settings(tmp_path, image_folder, vgg_file, tiny_decoder)
    json_path = train(resolve_config(settings))
    log = read_log(str(tmp_path / "run" / "log.jsonl"))
    steps = [r for r in log if "teacher" in r]
    assert steps[-1]["teacher"] < 0.8 * steps[0]["teacher"]
    assert not any("content" in r or "style" in r for r in steps)   # no encoder pass on outputs
    assert [r["val_teacher"] for r in log if "val_teacher" in r]
    # The term (before its weight) is the mean absolute difference to the teacher's drawing.
    task = AdaINTask(resolve_config(settings), [mx.cpu()])
    student = get_model("adain_decoder", width=0.0625)
    student.load_parameters(json_path.replace(".json", ".params"))
    raw = nd.array(np.random.default_rng(2).uniform(0, 3, (2, 512, 4, 4)))
    expected = np.abs(student(raw).asnumpy() - task.teacher(raw).asnumpy()).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(task.imitation(student(raw), raw).asnumpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("changes,words", [
    (dict(teacher_weight=0.0), "go together"),
    (dict(teacher="", teacher_weight=0.0, init=""), "nothing to train"),
    (dict(model_config=dict(width=0.25)), "differs from the one being trained"),
])
def test_distillation_settings_are_checked(tmp_path, image_folder, vgg_file, tiny_decoder,
                                           changes, words):
    settings = _distill_settings(tmp_path, image_folder, vgg_file, tiny_decoder, **changes)
    with pytest.raises(GluonSRError, match=words):
        train(resolve_config(settings))
