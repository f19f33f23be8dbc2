import numpy as np
import pytest

from conftest import random_gluon_model, smooth_image
from gluon_sr.infer import tiling
from gluon_sr.model_store import inference_defaults
from gluon_sr.infer.tiling import run_network, run_self_ensemble, tile_spans
from gluon_sr.infer.upscale import Upscaler
from gluon_sr.utils.errors import GluonSRError
from gluon_sr.utils.imageio import LoadedImage
from gluon_sr.utils.imresize import imresize


@pytest.mark.parametrize("name,scale,config", [
    ("srresnet_seed", 4, dict(channels=8, num_blocks=2)),
    ("johnson_sr", 2, dict(channels=8, num_blocks=2, upsampler="pixelshuffle")),
    ("edsr", 4, dict(channels=8, num_blocks=3)),
    ("edsr", 8, dict(channels=8, num_blocks=1)),
])
def test_tiled_equals_whole_image(name, scale, config):
    model = random_gluon_model(name, scale, **config)
    img = smooth_image(np.random.default_rng(1), 45, 61).astype(np.float32)
    whole = run_network(model, img, tile=0)
    tiled = run_network(model, img, tile=13)
    assert whole.shape == (45 * scale, 61 * scale, 3)
    np.testing.assert_allclose(tiled, whole, atol=1e-4)


def test_self_ensemble_is_equivariant_and_differs_from_one_pass():
    """Averaging over all eight flips/rotations makes the result commute with each of them
    (only if every output is turned back correctly), which one pass of a random net does not."""
    model = random_gluon_model("edsr", 2, channels=8, num_blocks=2)
    img = smooth_image(np.random.default_rng(3), 12, 17).astype(np.float32)
    single = run_network(model, img, tile=0, clip=False)
    ensemble = run_self_ensemble(model, img, tile=0, clip=False)
    assert ensemble.shape == single.shape == (24, 34, 3)
    assert np.abs(ensemble - single).max() > 1e-3
    for view in (lambda a: a[:, ::-1], lambda a: np.rot90(a, 1), lambda a: np.rot90(a[::-1], 3)):
        moved = run_self_ensemble(model, np.ascontiguousarray(view(img)), tile=0, clip=False)
        np.testing.assert_allclose(moved, view(ensemble), atol=1e-5)
    turned = run_network(model, np.rot90(img).copy(), tile=0, clip=False)
    assert np.abs(turned - np.rot90(single)).max() > 1e-3


def test_too_small_overlap_would_show_seams():
    """The check above is meaningful: with no overlap the tiles do differ."""
    model = random_gluon_model("edsr", 2, channels=8, num_blocks=3)
    img = smooth_image(np.random.default_rng(1), 40, 40).astype(np.float32)
    whole = run_network(model, img, tile=0)
    model.receptive_radius = 0
    assert np.abs(run_network(model, img, tile=10) - whole).max() > 1e-3


def test_large_images_are_tiled_automatically(monkeypatch):
    model = random_gluon_model("edsr", 2, channels=8, num_blocks=1)
    img = smooth_image(np.random.default_rng(2), 50, 50).astype(np.float32)
    calls = []
    real_forward = model.forward
    monkeypatch.setattr(model, "forward", lambda x: calls.append(1) or real_forward(x))
    monkeypatch.setattr(tiling, "default_tile", lambda model: 16)
    auto = run_network(model, img)
    assert len(calls) == 16
    np.testing.assert_allclose(auto, run_network(model, img, tile=0), atol=1e-4)


def test_default_tile_follows_where_the_net_computes():
    assert tiling.default_tile(random_gluon_model("edsr", 4, num_blocks=0)) == 512
    assert tiling.default_tile(random_gluon_model("srresnet_seed", 4, num_blocks=0)) == 192


def test_tile_spans_cover_exactly_once():
    spans = tile_spans(50, 16, 5)
    assert [(a, b) for a, b, _, _ in spans] == [(0, 16), (16, 32), (32, 48), (48, 50)]
    assert spans[1][2:] == (11, 37) and spans[0][2] == 0 and spans[-1][3] == 50


def test_upscale_keeps_alpha_and_hist_match_uses_bicubic_colours():
    model = random_gluon_model("edsr", 2, channels=8, num_blocks=1)
    rgb = smooth_image(np.random.default_rng(3), 20, 24).astype(np.float32)
    alpha = np.linspace(0, 1, 20 * 24, dtype=np.float32).reshape(20, 24)
    out, out_alpha = Upscaler(None, model=model, hist_match=True)(LoadedImage(rgb, alpha, 8, False))
    assert out.shape == (40, 48, 3) and out_alpha.shape == (40, 48)
    assert 0 <= out_alpha.min() and out_alpha.max() <= 1
    ref = np.clip(imresize(rgb.astype(np.float64), 2), 0, 1)
    for c in range(3):
        np.testing.assert_allclose(np.sort(out[..., c].ravel())[::97],
                                   np.sort(ref[..., c].ravel())[::97], atol=0.02)


def test_absurd_output_size_is_refused():
    model = random_gluon_model("edsr", 8, channels=4, num_blocks=0)
    with pytest.raises(GluonSRError, match="output would be"):
        run_network(model, np.zeros((3000, 3000, 3), np.float32))


def test_perceptual_models_default_to_histogram_matching():
    assert inference_defaults({"task": "sr", "training": {"feat_weight": 2e-5}})["hist_match"]
    assert not inference_defaults({"task": "sr", "training": {"feat_weight": 0.0}})["hist_match"]
    assert not inference_defaults({"task": "sr", "training": {"feat_weight": 1.0},
                                   "inference": {"hist_match": False}})["hist_match"]
