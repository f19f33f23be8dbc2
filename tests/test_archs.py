import json

import mxnet as mx
import numpy as np
import pytest

from gluon_sr.archs import MODELS, canonical_spec, get_model, model_spec
from gluon_sr.archs.sr_resnet import SRResNetConfig

SR_MODELS = sorted(name for name, (_, cfg, _) in MODELS.items() if cfg is SRResNetConfig)
from gluon_sr.archs.layers import FewChannelConv2D


@pytest.mark.parametrize("name", SR_MODELS)
@pytest.mark.parametrize("scale", [2, 4, 8])
@pytest.mark.parametrize("upsampler", ["deconv", "pixelshuffle", "subpixel"])
def test_output_shape_for_every_scale(name, scale, upsampler):
    net = get_model(name, scale=scale, upsampler=upsampler, channels=8, num_blocks=1)
    net.initialize()
    net.hybridize()
    out = net(mx.nd.random.uniform(shape=(2, 3, 7, 9)))
    assert out.shape == (2, 3, 7 * scale, 9 * scale)
    assert np.isfinite(out.asnumpy()).all()


def test_presets_differ_as_documented():
    seed = get_model("srresnet_seed")
    johnson = get_model("johnson_sr")
    assert seed.config.block == "seed" and not seed.config.head_act
    assert johnson.config.block == "johnson" and johnson.config.output == "tanh"
    # Johnson's scaled tanh keeps outputs inside 0..1 whatever the weights are.
    johnson.initialize(mx.init.Normal(1.0))
    out = johnson(mx.nd.random.uniform(shape=(1, 3, 6, 6))).asnumpy()
    assert out.min() >= 0 and out.max() <= 1


def test_spec_round_trip_rebuilds_identical_net(tmp_path):
    net = get_model("edsr", scale=2, channels=8, num_blocks=2)
    net.initialize()
    x = mx.nd.random.uniform(shape=(1, 3, 10, 10))
    expected = net(x).asnumpy()
    net.save_parameters(str(tmp_path / "n.params"))
    spec = model_spec(net)
    rebuilt = get_model(spec["arch"], **spec["config"])
    rebuilt.load_parameters(str(tmp_path / "n.params"))
    np.testing.assert_allclose(rebuilt(x).asnumpy(), expected, rtol=1e-5, atol=1e-6)


def test_specs_compare_as_json_and_older_specs_gain_the_new_defaults():
    net = get_model("transform_net", norm_stages=("encoder",))
    spec = model_spec(net)
    assert spec["config"]["norm_stages"] == ["encoder"]          # as a JSON file gives it back
    assert canonical_spec(json.loads(json.dumps(spec))) == spec
    # A checkpoint written before norm_stages existed describes the default network.
    old = {"arch": "transform_net", "config": {"channels": 32, "num_blocks": 5,
                                               "norm": "instance", "upsampler": "resize",
                                               "output": "tanh"}}
    assert canonical_spec(old) == model_spec(get_model("transform_net"))


def test_bad_configs_are_rejected():
    with pytest.raises(ValueError, match="unknown model"):
        get_model("nope")
    with pytest.raises(ValueError, match="scale"):
        get_model("srresnet_seed", scale=3)
    with pytest.raises(ValueError, match="unknown config"):
        get_model("srresnet_seed", widht=3)
    with pytest.raises(ValueError, match="norm"):
        get_model("srresnet_seed", norm="group")
    with pytest.raises(ValueError, match="norm stage"):
        get_model("transform_net", norm_stages=("decoder",))


def test_few_channel_conv_equals_plain_conv():
    layer = FewChannelConv2D(3, 9, in_channels=5)
    layer.initialize(mx.init.Normal(0.1))
    layer.bias.set_data(mx.nd.array([0.1, -0.2, 0.3]))
    x = mx.nd.random.uniform(shape=(2, 5, 12, 11))
    ref = mx.nd.Convolution(x, layer.weight.data(), layer.bias.data(), kernel=(9, 9),
                            pad=(4, 4), num_filter=3)
    np.testing.assert_allclose(layer(x).asnumpy(), ref.asnumpy(), rtol=1e-4, atol=1e-5)
    assert layer.weight.shape == (3, 5, 9, 9)
