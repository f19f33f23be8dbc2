import mxnet as mx
import numpy as np
import pytest

from conftest import smooth_image
from gluon_sr.archs import get_model
from gluon_sr.archs.transform_net import StatNorm, stat_norms
from gluon_sr.infer.loader import InferenceModel
from gluon_sr.infer.stylize import blend, preserve_colour, run_transform


def style_net(**config):
    net = get_model("transform_net", **{"channels": 4, "num_blocks": 2, **config})
    net.initialize(mx.init.Xavier(magnitude=2))
    net(mx.nd.zeros((1, 3, 8, 8)))
    rng = np.random.default_rng(0)
    for name, p in net.collect_params().items():   # non-trivial affine parameters
        if name.endswith(("gamma", "beta")):
            p.set_data(mx.nd.array(rng.uniform(0.5, 1.5, p.shape)))
    return net


@pytest.mark.parametrize("upsampler", ["resize", "deconv"])
def test_shapes_and_range(upsampler):
    net = style_net(upsampler=upsampler)
    net.hybridize()
    out = net(mx.nd.random.uniform(shape=(2, 3, 32, 24)))
    assert out.shape == (2, 3, 32, 24)
    assert 0 <= out.min().asscalar() and out.max().asscalar() <= 1


def test_statnorm_is_instance_norm_and_takes_fixed_statistics():
    norm = StatNorm(3)
    norm.initialize()
    x = mx.nd.random.normal(2, 3, shape=(2, 3, 5, 6))
    gamma, beta = mx.nd.array([0.5, 1.0, 2.0]), mx.nd.array([0.1, -0.2, 0.3])
    norm.gamma.set_data(gamma)
    norm.beta.set_data(beta)
    weights = mx.nd.random.normal(shape=x.shape)     # a loss that weights every output
    grads = []
    for use_op in (False, True):                     # the LayerNorm form and the operator
        norm.use_instance_norm_op = use_op
        xg = x.copy()
        xg.attach_grad()
        with mx.autograd.record():
            y = norm(xg)
            loss = (y * weights).sum()
        loss.backward()
        grads.append(xg.grad.asnumpy())
        ref = mx.nd.InstanceNorm(x, gamma, beta, eps=1e-5)
        np.testing.assert_allclose(y.asnumpy(), ref.asnumpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-3, atol=1e-5)
    norm.use_instance_norm_op = False
    norm.gamma.set_data(mx.nd.ones(3))
    norm.beta.set_data(mx.nd.zeros(3))
    norm.fixed = (mx.nd.zeros((1, 3, 1, 1)), mx.nd.ones((1, 3, 1, 1)))
    np.testing.assert_allclose(norm(x).asnumpy(), x.asnumpy() / np.sqrt(1 + 1e-5), rtol=1e-5)


def test_exact_tiling_of_the_instance_norm_net():
    model = InferenceModel.from_gluon(style_net())
    img = smooth_image(np.random.default_rng(1), 150, 122).astype(np.float32)
    whole = run_transform(model, img, tile=0)
    tiled = run_transform(model, img, tile=48)
    assert whole.shape == (150, 122, 3)
    np.testing.assert_allclose(tiled, whole, atol=1e-4)
    # Naive tiling (each tile normalised on its own) is visibly different.
    naive = np.zeros_like(whole)
    for y in range(0, 150, 50):
        naive[y:y + 50] = run_transform(model, img[y:y + 50], tile=0)
    assert np.abs(naive - whole).max() > 1e-2


def test_norm_stages_choose_the_normalised_layers_and_tiling_stays_exact():
    net = style_net(norm_stages=("encoder",))
    assert len(stat_norms(net)) == 3
    assert len(stat_norms(style_net())) == 3 + 2 * 2 + 2
    model = InferenceModel.from_gluon(net)
    img = smooth_image(np.random.default_rng(2), 100, 76).astype(np.float32)
    np.testing.assert_allclose(run_transform(model, img, tile=40),
                               run_transform(model, img, tile=0), atol=1e-4)


def test_tiling_runs_on_the_imperative_copy_and_leaves_the_fast_path_alone(tmp_path):
    """Tiled stylisation switches statistics layer by layer on a separate imperative network;
    the fast (hybridized, oneDNN-fused) network is neither called nor re-hybridized."""
    from gluon_sr.infer.loader import load_for_inference
    from gluon_sr.model_store import save_model

    net = style_net()
    save_model(net, str(tmp_path), "style", {"task": "style"})
    model = load_for_inference(str(tmp_path / "style.json"))
    img = smooth_image(np.random.default_rng(4), 40, 44).astype(np.float32)
    whole = run_transform(model, img, tile=0)
    calls = []
    fast = model.forward
    model.forward = lambda x: calls.append(x.shape) or fast(x)
    tiled = run_transform(model, img, tile=24)
    assert calls == [] and model.imperative_net() is not None
    np.testing.assert_allclose(tiled, whole, atol=1e-4)
    run_transform(model, img, tile=0)
    assert len(calls) == 1


def test_colour_preservation_keeps_content_chroma_and_strength_blends():
    from gluon_sr.utils.color import rgb_to_ycbcr

    rng = np.random.default_rng(2)
    content, stylised = rng.uniform(0.4, 0.6, (2, 16, 16, 3))   # no clipping at 0 or 1
    kept = preserve_colour(stylised, content)
    np.testing.assert_allclose(rgb_to_ycbcr(kept)[..., 1:], rgb_to_ycbcr(content)[..., 1:],
                               atol=2e-3)
    np.testing.assert_allclose(rgb_to_ycbcr(kept)[..., 0], rgb_to_ycbcr(stylised)[..., 0],
                               atol=2e-3)
    np.testing.assert_allclose(blend(stylised, content, 0.25),
                               0.25 * stylised + 0.75 * content, rtol=1e-6)
