import mxnet as mx
import numpy as np
import pytest

from conftest import smooth_image
from gluon_sr import inference
from gluon_sr.archs import get_model
from gluon_sr.imageio import LoadedImage
from gluon_sr.inference import run_network, run_self_ensemble, tile_spans, upscale_image


def random_net(name, scale, **config):
    mx.random.seed(0)                        # the same weights whatever ran before
    net = get_model(name, scale=scale, **config)
    net.initialize(mx.init.Xavier(magnitude=1.5))
    net(mx.nd.zeros((1, 3, 8, 8)))          # resolve deferred parameter shapes
    rng = np.random.default_rng(0)
    # Non-trivial BN statistics, so inference-mode BN is not an identity.
    for pname, p in net.collect_params().items():
        if pname.endswith("running_mean"):
            p.set_data(mx.nd.array(rng.normal(0, 0.1, p.shape)))
        elif pname.endswith("running_var"):
            p.set_data(mx.nd.array(rng.uniform(0.5, 2.0, p.shape)))
    net.hybridize()
    return net


@pytest.mark.parametrize("name,scale,config", [
    ("srresnet_seed", 4, dict(channels=8, num_blocks=2)),
    ("johnson_sr", 2, dict(channels=8, num_blocks=2, upsampler="pixelshuffle")),
    ("edsr", 4, dict(channels=8, num_blocks=3)),
    ("edsr", 8, dict(channels=8, num_blocks=1)),
])
def test_tiled_equals_whole_image(name, scale, config):
    net = random_net(name, scale, **config)
    img = smooth_image(np.random.default_rng(1), 45, 61).astype(np.float32)
    whole = run_network(net, img, scale, tile=0)
    tiled = run_network(net, img, scale, tile=13)
    assert whole.shape == (45 * scale, 61 * scale, 3)
    np.testing.assert_allclose(tiled, whole, atol=1e-4)


def test_self_ensemble_is_equivariant_and_differs_from_one_pass():
    """Averaging over all eight flips/rotations makes the result commute with each of them
    (only if every output is turned back correctly), which one pass of a random net does not."""
    net = random_net("edsr", 2, channels=8, num_blocks=2)
    img = smooth_image(np.random.default_rng(3), 12, 17).astype(np.float32)
    single = run_network(net, img, 2, tile=0, clip=False)
    ensemble = run_self_ensemble(net, img, 2, tile=0, clip=False)
    assert ensemble.shape == single.shape == (24, 34, 3)
    assert np.abs(ensemble - single).max() > 1e-3
    for view in (lambda a: a[:, ::-1], lambda a: np.rot90(a, 1), lambda a: np.rot90(a[::-1], 3)):
        moved = run_self_ensemble(net, np.ascontiguousarray(view(img)), 2, tile=0, clip=False)
        np.testing.assert_allclose(moved, view(ensemble), atol=1e-5)
    turned = run_network(net, np.rot90(img).copy(), 2, tile=0, clip=False)
    assert np.abs(turned - np.rot90(single)).max() > 1e-3


def test_too_small_overlap_would_show_seams():
    """The check above is meaningful: with no overlap the tiles do differ."""
    net = random_net("edsr", 2, channels=8, num_blocks=3)
    img = smooth_image(np.random.default_rng(1), 40, 40).astype(np.float32)
    whole = run_network(net, img, 2, tile=0)
    net.receptive_radius = lambda: 0
    assert np.abs(run_network(net, img, 2, tile=10) - whole).max() > 1e-3


def test_large_images_are_tiled_automatically(monkeypatch):
    net = random_net("edsr", 2, channels=8, num_blocks=1)
    img = smooth_image(np.random.default_rng(2), 50, 50).astype(np.float32)
    calls = []
    real_forward = inference._forward
    monkeypatch.setattr(inference, "_forward", lambda *a: calls.append(1) or real_forward(*a))
    monkeypatch.setattr(inference, "default_tile", lambda net: 16)
    auto = run_network(net, img, 2)
    assert len(calls) == 16
    np.testing.assert_allclose(auto, run_network(net, img, 2, tile=0), atol=1e-4)


def test_default_tile_follows_where_the_net_computes():
    assert inference.default_tile(get_model("edsr", scale=4)) == 512
    assert inference.default_tile(get_model("srresnet_seed", scale=4)) == 192


def test_tile_spans_cover_exactly_once():
    spans = tile_spans(50, 16, 5)
    assert [(a, b) for a, b, _, _ in spans] == [(0, 16), (16, 32), (32, 48), (48, 50)]
    assert spans[1][2:] == (11, 37) and spans[0][2] == 0 and spans[-1][3] == 50


def test_upscale_keeps_alpha_and_hist_match_uses_bicubic_colours():
    net = random_net("edsr", 2, channels=8, num_blocks=1)
    rgb = smooth_image(np.random.default_rng(3), 20, 24).astype(np.float32)
    alpha = np.linspace(0, 1, 20 * 24, dtype=np.float32).reshape(20, 24)
    out, out_alpha, seconds = upscale_image(net, LoadedImage(rgb, alpha, 8, False), 2,
                                            hist_match=True)
    assert out.shape == (40, 48, 3) and out_alpha.shape == (40, 48) and seconds > 0
    assert 0 <= out_alpha.min() and out_alpha.max() <= 1
    from gluon_sr.imresize import imresize

    ref = np.clip(imresize(rgb.astype(np.float64), 2), 0, 1)
    for c in range(3):
        np.testing.assert_allclose(np.sort(out[..., c].ravel())[::97],
                                   np.sort(ref[..., c].ravel())[::97], atol=0.02)


def test_absurd_output_size_is_refused():
    from gluon_sr.errors import GluonSRError

    net = random_net("edsr", 8, channels=4, num_blocks=0)
    with pytest.raises(GluonSRError, match="output would be"):
        run_network(net, np.zeros((3000, 3000, 3), np.float32), 8)


def test_perceptual_models_default_to_histogram_matching():
    from gluon_sr.inference import inference_defaults

    assert inference_defaults({"task": "sr", "training": {"feat_weight": 2e-5}})["hist_match"]
    assert not inference_defaults({"task": "sr", "training": {"feat_weight": 0.0}})["hist_match"]
    assert not inference_defaults({"task": "sr", "training": {"feat_weight": 1.0},
                                   "inference": {"hist_match": False}})["hist_match"]
