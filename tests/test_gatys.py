import mxnet as mx
import numpy as np
import pytest

from conftest import smooth_image
from gluon_sr.infer.gatys import STYLE_LAYERS, StyleObjective, optimise
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


def test_real_vgg_gatys_moves_towards_the_style(vgg_file):
    vgg, _ = load_loss_vgg(STYLE_LAYERS, weights=vgg_file)
    rng = np.random.default_rng(2)
    content = smooth_image(rng, 48, 48)
    style = np.zeros((48, 48, 3))
    style[::4] = 1.0                                    # stripes
    obj = StyleObjective(vgg, content, style)
    _, history = optimise(obj, content, iters=10, log=None)
    assert history[-1]["style"] < 0.5 * history[0]["style"]
