"""The style networks shipped in params/: each really stylises a held-out photo.

Each trained network's output must be much closer to its painting's Gram statistics than the
photo itself, under the very objective it was trained with, while keeping the photo's layout;
tiled inference of the real network equals whole-image inference.
"""
import os

import numpy as np
import pytest

from conftest import SHARED
from gluon_sr.model_store import load_model, models_where

STYLES = models_where(lambda meta: meta.get("task") == "style")
STYLE_DIR = os.path.join(SHARED, "data", "style")
HELD_OUT_PHOTO = os.path.join(SHARED, "data", "content", "chicago.jpg")


def test_at_least_four_styles_are_shipped_with_held_out_losses():
    assert len(STYLES) >= 4, STYLES
    for name in STYLES:
        _, meta = load_model(name)
        metrics = meta["metrics"]
        assert metrics["val_images"] > 0 and metrics["val_style_loss"] > 0, name
        assert meta["training"]["steps"] > 0 and meta["style"]["style_image_sha256"], name


@pytest.mark.slow
@pytest.mark.parametrize("name", STYLES)
def test_shipped_style_network_moves_a_held_out_photo_towards_its_painting(name, vgg_file):
    from gluon_sr.archs.vgg import load_loss_vgg
    from gluon_sr.evaluation.style_bench import objective_for, style_image_for
    from gluon_sr.infer.loader import load_for_inference
    from gluon_sr.infer.stylize import run_transform, working_copy
    from gluon_sr.utils.imageio import read_image

    if not os.path.exists(HELD_OUT_PHOTO):
        pytest.skip(f"held-out content photo not found at {HELD_OUT_PHOTO} (../shared is absent)")
    model = load_for_inference(name)
    meta = model.meta
    photo = working_copy(read_image(HELD_OUT_PHOTO).rgb, 160)
    stylised = run_transform(model, photo, tile=0)
    vgg, _ = load_loss_vgg((*meta["style"]["style_layers"], meta["style"]["content_layer"]),
                           weights=vgg_file)
    objective = objective_for(meta, vgg, photo, style_image_for(meta, STYLE_DIR))

    def style_and_content(rgb):
        import mxnet as mx

        content, style, _ = objective.parts(mx.nd.array(rgb.transpose(2, 0, 1)[None]))
        return float(style.asscalar()), float(content.asscalar())

    photo_style, _ = style_and_content(photo)
    net_style, net_content = style_and_content(stylised)
    assert net_style < 0.5 * photo_style, (net_style, photo_style)
    # ... without replacing the photo: its layout survives (content loss of the stylised image
    # stays below that of an unrelated image, here the photo flipped upside down).
    _, flipped_content = style_and_content(np.ascontiguousarray(photo[::-1]))
    assert net_content < flipped_content, (net_content, flipped_content)

    tiled = run_transform(model, photo, tile=64)
    np.testing.assert_allclose(tiled, stylised, atol=1e-4)
