import mxnet as mx
import numpy as np
import pytest

from conftest import smooth_image
from gluon_sr.infer.gatys import STYLE_LAYERS, StyleObjective, optimise, start_image
from gluon_sr.utils.errors import GluonSRError
from gluon_sr.archs.vgg import LossVGG16, load_loss_vgg


def random_vgg():
    mx.random.seed(0)                        # the same weights whatever ran before
    net = LossVGG16(("relu1_2", "relu2_2", "relu3_3", "relu4_3"))
    net.initialize(mx.init.Xavier(magnitude=2))
    return net.freeze()


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_optimiser_lowers_the_loss(optimizer):
    rng = np.random.default_rng(0)
    content, style = smooth_image(rng, 32, 32), smooth_image(rng, 40, 36)[::-1]
    objective = StyleObjective(random_vgg(), content, style, style_weight=50.0, tv_weight=1.0)
    image, history = optimise(objective, content, iters=8, optimizer=optimizer, log=None)
    assert image.shape == (32, 32, 3) and 0 <= image.min() and image.max() <= 1
    assert len(history) == 8
    assert history[-1]["loss"] < 0.7 * history[0]["loss"]


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_optimiser_stops_at_the_first_iteration_meeting_the_goal(optimizer):
    rng = np.random.default_rng(1)
    content, style = smooth_image(rng, 32, 32), smooth_image(rng, 32, 32)[::-1]
    objective = StyleObjective(random_vgg(), content, style, style_weight=50.0)
    _, full = optimise(objective, content, iters=8, optimizer=optimizer, log=None)
    goal = full[4]["loss"]                      # reached at iteration 5 at the latest
    _, history = optimise(objective, content, iters=8, optimizer=optimizer, log=None,
                          until=lambda h: h["loss"] <= goal)
    first = next(h["iter"] for h in full if h["loss"] <= goal)
    assert len(history) == first and history[-1]["loss"] == pytest.approx(full[first - 1]["loss"])


def test_start_image_is_the_photo_or_neural_style_noise_about_the_imagenet_mean():
    photo = smooth_image(np.random.default_rng(3), 20, 24)
    assert np.array_equal(start_image(photo, "photo"), photo.astype(np.float32))
    noise = start_image(photo, "noise", seed=1)
    assert noise.shape == photo.shape and noise.dtype == np.float32
    # 0.001 in 0..255 units about (123.68, 116.779, 103.939): flat to the eye, not constant.
    assert np.allclose(noise.mean(axis=(0, 1)) * 255, (123.68, 116.779, 103.939), atol=1e-3)
    assert 0 < noise.std(axis=(0, 1)).max() * 255 < 0.002
    assert np.array_equal(noise, start_image(photo, "noise", seed=1))
    with pytest.raises(GluonSRError, match="unknown start"):
        start_image(photo, "blank")


def test_real_vgg_gatys_moves_towards_the_style(vgg_file):
    vgg, _ = load_loss_vgg(STYLE_LAYERS, weights=vgg_file)
    rng = np.random.default_rng(2)
    content = smooth_image(rng, 48, 48)
    style = np.zeros((48, 48, 3))
    style[::4] = 1.0                                    # stripes
    obj = StyleObjective(vgg, content, style)
    _, history = optimise(obj, content, iters=10, log=None)
    assert history[-1]["style"] < 0.5 * history[0]["style"]
