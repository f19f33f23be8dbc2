import os

import mxnet as mx
import numpy as np
import pytest

from gluon_sr.utils.errors import GluonSRError
from gluon_sr.archs.vgg import CONVENTIONS, TAPS, LossVGG16, load_loss_vgg


def test_truncated_after_deepest_tap_and_tap_shapes():
    net = LossVGG16(("relu1_2", "relu2_2", "relu3_3", "relu4_3"))
    assert len(net.features) == TAPS["relu4_3"] + 1
    assert len(LossVGG16(("relu2_2",)).features) == 9      # the seed's 9-layer loss net
    net.initialize()
    x = mx.nd.random.uniform(shape=(1, 3, 32, 32))
    expected = {"relu1_2": (1, 64, 32, 32), "relu2_2": (1, 128, 16, 16),
                "relu3_3": (1, 256, 8, 8), "relu4_3": (1, 512, 4, 4)}
    assert {k: v.shape for k, v in net(x).items()} == expected
    net.hybridize()
    assert {k: v.shape for k, v in net(x).items()} == expected


def test_one_tap_is_a_dict_too_and_taps_come_in_forward_order():
    net = LossVGG16(("relu2_2", "relu1_1", "relu2_2"))
    assert net.taps == ("relu1_1", "relu2_2")
    net.initialize()
    net.hybridize()
    out = LossVGG16(("relu1_1",))
    out.initialize()
    assert list(out(mx.nd.zeros((1, 3, 8, 8)))) == ["relu1_1"]
    assert list(net(mx.nd.zeros((1, 3, 8, 8)))) == ["relu1_1", "relu2_2"]


def test_preprocessing_is_the_documented_affine_map():
    for name, conv in CONVENTIONS.items():
        net = LossVGG16(("relu1_1",), convention=name)
        net.initialize()
        x = np.random.default_rng(0).uniform(size=(1, 3, 4, 4)).astype(np.float32)
        gain, offset = net.gain.data().asnumpy(), net.offset.data().asnumpy()
        mean = np.array(conv["mean"]).reshape(1, 3, 1, 1)
        std = np.array(conv["std"]).reshape(1, 3, 1, 1)
        np.testing.assert_allclose(x * gain + offset, (x * conv["scale"] - mean) / std, rtol=1e-5)


def test_unknown_tap_is_an_error():
    with pytest.raises(GluonSRError, match="unknown VGG16 layer"):
        LossVGG16(("relu9_9",))


def test_real_weights_load_frozen_and_match_zoo_layout(vgg_file):
    net, source = load_loss_vgg(("relu1_2", "relu2_2"), weights=vgg_file)
    assert source["convention"] == "caffe"
    # conv1_1 bias of the published ImageNet VGG16 (weights README).
    np.testing.assert_allclose(net.features[0].bias.data().asnumpy()[:3],
                               [0.73429835, 0.093403675, 0.06775674], rtol=1e-6)
    assert all(p.grad_req == "null" for p in net.collect_params().values())
    # The same weights in the model zoo's own vgg16 structure give the same relu2_2.
    from mxnet.gluon.model_zoo import vision

    zoo = vision.vgg16()
    zoo.initialize()
    zoo.features.load_parameters(vgg_file, ignore_extra=True, allow_missing=True)
    x = mx.nd.random.uniform(shape=(1, 3, 24, 24))
    h = x * 255 - mx.nd.array([123.68, 116.779, 103.939]).reshape((1, 3, 1, 1))
    for i in range(TAPS["relu2_2"] + 1):
        h = zoo.features[i](h)
    np.testing.assert_allclose(net(x)["relu2_2"].asnumpy(), h.asnumpy(), rtol=1e-4, atol=1e-3)


def test_bad_weight_files_give_clear_errors(tmp_path):
    with pytest.raises(GluonSRError, match="not found"):
        load_loss_vgg(weights=str(tmp_path / "missing.params"))
    bad = tmp_path / "bad.params"
    bad.write_bytes(b"not a params file")
    with pytest.raises(GluonSRError, match="not a usable VGG16"):
        load_loss_vgg(weights=str(bad))
    wrong = tmp_path / "wrong.params"
    mx.nd.save(str(wrong), {"0.weight": mx.nd.zeros((2, 3, 3, 3))})
    with pytest.raises(GluonSRError, match="not a usable VGG16"):
        load_loss_vgg(weights=str(wrong))


def test_env_var_selects_the_weights_file(vgg_file, monkeypatch):
    monkeypatch.setenv("GLUON_SR_VGG16", vgg_file)
    _, source = load_loss_vgg(("relu1_1",))
    assert source == {"convention": "caffe", "weights": os.path.basename(vgg_file)}
