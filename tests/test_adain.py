"""AdaIN: the layer, the decoder, and training (the decoder learns; the encoder stays put)."""
import json
import os

import mxnet as mx
import numpy as np
from mxnet import nd

from gluon_sr.archs import get_model
from gluon_sr.archs.adain import adain, channel_mean_std
from gluon_sr.train.plotting import read_log
from gluon_sr.train.run import resolve_config, train


def test_adain_output_takes_the_style_statistics_and_keeps_the_content_pattern():
    rng = np.random.default_rng(0)
    content = nd.array(rng.normal(3, 2, (2, 5, 6, 7)))
    style = nd.array(rng.normal(-1, 0.5, (2, 5, 4, 4)))
    mean_s, std_s = channel_mean_std(nd, style)
    out = adain(nd, content, mean_s, std_s)
    mean_o, std_o = channel_mean_std(nd, out)
    np.testing.assert_allclose(mean_o.asnumpy(), mean_s.asnumpy(), atol=1e-4)
    np.testing.assert_allclose(std_o.asnumpy(), std_s.asnumpy(), rtol=1e-3)
    # Per channel, the output is an increasing affine map of the content.
    c, o = content.asnumpy()[0, 0].ravel(), out.asnumpy()[0, 0].ravel()
    assert np.corrcoef(c, o)[0, 1] > 0.9999
    np.testing.assert_allclose(std_s.asnumpy()[..., 0, 0],
                               np.sqrt(style.asnumpy().var(axis=(2, 3)) + 1e-5), rtol=1e-4)


def test_decoder_mirrors_the_encoder_to_relu4_1():
    dec = get_model("adain_decoder")
    dec.initialize()
    dec.hybridize()
    assert dec(nd.zeros((2, 512, 4, 5))).shape == (2, 3, 32, 40)
    convs = [(c.weight.shape[1], c.weight.shape[0]) for c in dec.convs]
    assert convs == [(512, 256), (256, 256), (256, 256), (256, 128), (128, 128), (128, 64),
                     (64, 64), (64, 3)]
    assert dec.input_scale.grad_req == "null"


def test_a_few_steps_lower_the_loss_and_only_the_decoder_is_saved(tmp_path, image_folder,
                                                                   vgg_file):
    cfg = resolve_config(dict(
        task="adain", name="a", content=(image_folder,), styles=image_folder, load_size=64,
        image_size=32, model_config=dict(width=0.125), steps=40, batch_size=4, lr=2e-3,
        log_every=10, checkpoint_every=20, val_every=40, vgg=vgg_file,
        val_dir=image_folder, val_style_dir=image_folder, val_images=2,
        run_dir=str(tmp_path / "run"), out_dir=str(tmp_path / "params"), progress=False))
    json_path = train(cfg)
    losses = [r["loss"] for r in read_log(str(tmp_path / "run" / "log.jsonl")) if "loss" in r]
    assert losses[-1] < 0.7 * losses[0]
    meta = json.load(open(json_path))
    assert meta["task"] == "adain" and meta["arch"] == "adain_decoder"
    assert os.path.exists(tmp_path / "run" / "preview_0000040.png")
    params = mx.nd.load(json_path.replace(".json", ".params"))
    assert not any("features" in k for k in params)          # no VGG weights in the model
    scale = [v for k, v in params.items() if k.endswith("input_scale")][0].asnumpy()
    assert scale.shape == (1, 512, 1, 1) and np.all(scale > 0) and np.all(np.isfinite(scale))
    assert not np.allclose(scale, 1.0)
