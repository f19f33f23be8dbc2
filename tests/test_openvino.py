"""The OpenVINO backend and --backend auto: same results as MXNet, the fastest path chosen
once and cached, MXNet when OpenVINO is absent."""
import mxnet as mx
import numpy as np
import pytest

from conftest import smooth_image
from gluon_sr.archs import get_model
from gluon_sr.deploy import auto
from gluon_sr.infer.loader import load_for_inference
from gluon_sr.infer.stylize import run_transform
from gluon_sr.infer.tiling import run_network
from gluon_sr.model_store import save_model

pytest.importorskip("openvino", reason="OpenVINO is not installed (pip install openvino)")


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(auto, "CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(auto, "CHOICES", str(tmp_path / "cache" / "choices.json"))
    monkeypatch.setattr(auto, "EXPORT_DIR", str(tmp_path / "no_exports"))
    from gluon_sr.deploy import openvino_backend

    monkeypatch.setattr(openvino_backend, "CACHE_DIR", str(tmp_path / "cache"))


def saved(tmp_path, arch, task, **config):
    mx.random.seed(0)
    net = get_model(arch, **config)
    net.initialize(mx.init.Xavier(magnitude=2))
    net(mx.nd.zeros((1, 3, 8, 8)))
    return save_model(net, str(tmp_path / "models"), arch, {"task": task})


@pytest.mark.parametrize("arch,task,config", [
    ("edsr", "sr", dict(scale=2, channels=8, num_blocks=2)),
    ("transform_net", "style", dict(channels=4, num_blocks=1)),
])
def test_openvino_f32_equals_mxnet(tmp_path, arch, task, config):
    path = saved(tmp_path, arch, task, **config)
    x = np.random.default_rng(1).uniform(0, 1, (1, 3, 36, 44)).astype(np.float32)
    reference = load_for_inference(path, "mxnet", "fp32").forward(x)
    model = load_for_inference(path, "openvino", "fp32")
    assert model.backend == "openvino" and model.task == task
    np.testing.assert_allclose(model.forward(x), reference, rtol=0, atol=1e-4)


def test_tiling_on_openvino_equals_whole_images(tmp_path):
    img = smooth_image(np.random.default_rng(2), 45, 50).astype(np.float32)
    sr = load_for_inference(saved(tmp_path, "edsr", "sr", scale=2, channels=8, num_blocks=2),
                            "openvino")
    np.testing.assert_allclose(run_network(sr, img, tile=16), run_network(sr, img, tile=0),
                               atol=1e-5)
    # Style networks tile exactly on the model's MXNet copy (instance-norm statistics).
    style = load_for_inference(saved(tmp_path, "transform_net", "style", channels=4,
                                     num_blocks=1), "openvino")
    big = smooth_image(np.random.default_rng(3), 90, 70).astype(np.float32)
    np.testing.assert_allclose(run_transform(style, big, tile=40),
                               run_transform(style, big, tile=0), atol=1e-4)



def test_a_network_compiled_per_shape_equals_the_dynamic_one_and_keeps_a_few(tmp_path):
    from gluon_sr.deploy import openvino_backend
    from gluon_sr.model_store import load_model_description

    path = saved(tmp_path, "edsr", "sr", scale=2, channels=8, num_blocks=2)
    onnx_path = auto.cached_export(path, load_model_description(path))
    dynamic = openvino_backend.OpenVinoModel(onnx_path)
    fixed = openvino_backend.OpenVinoModel(onnx_path, per_shape=True)
    rng = np.random.default_rng(4)
    sides = [(20 + 4 * i, 24) for i in range(openvino_backend.SHAPES_KEPT + 1)]
    for h, w in sides + sides[:1]:
        x = rng.uniform(0, 1, (1, 3, h, w)).astype(np.float32)
        out = fixed.run_numpy(x)
        assert out.shape == (1, 3, 2 * h, 2 * w)
        np.testing.assert_allclose(out, dynamic.run_numpy(x), rtol=0, atol=1e-5)
    # The first shape came back after SHAPES_KEPT others: compiled again, the oldest dropped.
    assert list(fixed._by_shape) == [(1, 3, h, w) for h, w in sides[2:] + sides[:1]]

def test_bf16_stays_close_where_the_cpu_has_it(tmp_path):
    from gluon_sr.deploy.openvino_backend import native_bf16
    from gluon_sr.utils.errors import GluonSRError

    path = saved(tmp_path, "edsr", "sr", scale=2, channels=8, num_blocks=2)
    if not native_bf16():
        with pytest.raises(GluonSRError, match="native bf16"):
            load_for_inference(path, "openvino", "bf16")
        return
    x = np.random.default_rng(1).uniform(0, 1, (1, 3, 32, 32)).astype(np.float32)
    reference = load_for_inference(path, "mxnet", "fp32").forward(x)
    # bf16 keeps 8 significant bits: about 0.4% of each value, a few of them summed per layer.
    out = load_for_inference(path, "openvino", "bf16").forward(x)
    assert np.abs(out - reference).max() < 0.03


def test_auto_measures_once_then_reads_its_cache(tmp_path, monkeypatch):
    from gluon_sr.deploy import openvino_backend

    # Two candidates on any CPU: with native bf16, OpenVINO bf16 would be a third.
    monkeypatch.setattr(openvino_backend, "native_bf16", lambda: False)
    path = saved(tmp_path, "edsr", "sr", scale=2, channels=8, num_blocks=2)
    calls = []
    monkeypatch.setattr(auto, "_seconds", lambda model: calls.append(model.backend) or
                        {"mxnet": 2.0, "openvino": 1.0}[model.backend])
    model = load_for_inference(path, "auto", "auto")
    assert model.backend == "openvino" and "2.00x the speed of mxnet fp32" in model.note
    assert sorted(calls) == ["mxnet", "openvino"]
    again = load_for_inference(path, "auto", "auto")
    assert again.backend == "openvino" and len(calls) == 2


def test_auto_falls_back_to_mxnet_without_openvino(tmp_path, monkeypatch):
    from gluon_sr.deploy import openvino_backend

    monkeypatch.setattr(openvino_backend, "openvino_available", lambda: False)
    model = load_for_inference(saved(tmp_path, "edsr", "sr", scale=2, channels=4, num_blocks=1),
                               "auto", "auto")
    assert (model.backend, model.precision) == ("mxnet", "fp32")
    assert "not installed" in model.note


def test_reduced_precisions_are_candidates_only_with_a_recorded_small_psnr_change():
    meta = {"deployment": {"mxnet_int8": {"max_psnr_change_db": 0.04}}}
    assert ("mxnet", "int8") in auto.candidates(meta)
    meta["deployment"]["mxnet_int8"]["max_psnr_change_db"] = 0.06
    assert ("mxnet", "int8") not in auto.candidates(meta)
    assert ("mxnet", "int8") not in auto.candidates({})


def test_style_networks_are_candidates_only_when_their_picture_stays_within_40_db():
    meta = {"deployment": {"mxnet_int8": {"min_output_psnr_db": 41.0}}}
    assert ("mxnet", "int8") in auto.candidates(meta)
    meta["deployment"]["mxnet_int8"]["min_output_psnr_db"] = 39.0
    assert ("mxnet", "int8") not in auto.candidates(meta)


@pytest.mark.parametrize("noise,kept", [(1e-4, True), (1e-2, False)])
def test_bf16_without_a_record_is_checked_against_fp32_at_first_use(tmp_path, monkeypatch, noise,
                                                                     kept):
    """On a CPU with native bf16 (faked here), a model whose sidecar has no bf16 record runs
    bf16 only if its output on the example photos is close enough to fp32's."""
    from gluon_sr.deploy import openvino_backend

    monkeypatch.setattr(openvino_backend, "native_bf16", lambda: True)
    path = saved(tmp_path, "edsr", "sr", scale=2, channels=4, num_blocks=1)
    assert ("openvino", "bf16") in auto.candidates({})
    assert auto.sr_self_psnr_needed({}) == pytest.approx(38.0 + 19.36, abs=0.01)
    assert auto.sr_self_psnr_needed({"metrics": {"benchmarks": {
        "Set5_x4": {"psnr": 31.0}, "Set14_x4": {"psnr": 27.9}}}}) == pytest.approx(50.36, abs=0.01)
    assert ("openvino", "bf16") not in auto.candidates(
        {"deployment": {"openvino_bf16": {"max_psnr_change_db": 0.2}}})

    class Rounded:                  # stands in for bf16: fp32's output plus its rounding noise
        backend, precision = "openvino", "bf16"

        def __init__(self, model):
            self.model, self.task = model, model.task

        def forward(self, x):
            out = self.model.forward(x)
            return out + noise * np.random.default_rng(0).standard_normal(out.shape)

    def load(name, backend, precision):
        model = load_for_inference(name, backend, "fp32")
        return Rounded(model) if precision == "bf16" else model

    speed = {"mxnet": 3.0, "openvino": 2.0}
    monkeypatch.setattr(auto, "_seconds", lambda m: 1.0 if isinstance(m, Rounded)
                        else speed[m.backend])
    model, note = auto.load_fastest(path, load)
    assert isinstance(model, Rounded) == kept
    recorded = next(iter(auto.read_json_if_exists(auto.CHOICES, "choices").values()))
    expected_psnr = 10 * np.log10(1 / noise ** 2)
    assert recorded["self_psnr_db"]["openvino bf16"] == pytest.approx(expected_psnr, abs=1.0)
