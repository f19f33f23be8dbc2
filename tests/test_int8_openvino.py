"""int8 on OpenVINO by quantize / dequantize pairs (gluon_sr.deploy.qdq) and AdaIN's int8 path:
calibrated ranges, the quantized graph, outputs near float, the recorded guard auto reads."""
import json

import numpy as np
import pytest

from conftest import assert_one_line_error, run_script, smooth_image
from gluon_sr.utils.errors import GluonSRError

pytest.importorskip("openvino", reason="OpenVINO runs the quantized networks")
onnx = pytest.importorskip("onnx", reason="the quantized networks are ONNX files")


def _conv_net(path, rng):
    """conv(3->8) -> ReLU -> conv(8->8) -> ReLU -> conv(8->3), 3x3, padding 1, as ONNX."""
    from onnx import TensorProto, helper, numpy_helper

    shapes = [(8, 3), (8, 8), (3, 8)]
    nodes, weights, x = [], [], "data"
    for i, (out_c, in_c) in enumerate(shapes):
        weights += [numpy_helper.from_array(rng.normal(0, 0.3, (out_c, in_c, 3, 3))
                                            .astype(np.float32), f"w{i}"),
                    numpy_helper.from_array(rng.normal(0, 0.1, out_c).astype(np.float32),
                                            f"b{i}")]
        nodes.append(helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"c{i}"],
                                      pads=[1, 1, 1, 1]))
        x = f"c{i}"
        if i < len(shapes) - 1:
            nodes.append(helper.make_node("Relu", [x], [f"r{i}"]))
            x = f"r{i}"
    graph = helper.make_graph(
        nodes, "net", [helper.make_tensor_value_info("data", TensorProto.FLOAT,
                                                     [1, 3, None, None])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.metadata_props.add(key="kept", value="yes")
    onnx.save(model, path)
    return path


def _run(path, x):
    import openvino as ov

    core = ov.Core()
    return core.compile_model(core.read_model(path), "CPU",
                              {"INFERENCE_PRECISION_HINT": "f32"})(x)[0]


def test_quantize_pairs_every_conv_but_the_kept_ones_and_stays_near_float(tmp_path):
    from gluon_sr.deploy.qdq import conv_input_ranges, quantize

    rng = np.random.default_rng(0)
    net = _conv_net(str(tmp_path / "net.onnx"), rng)
    inputs = [rng.uniform(-1, 1, (1, 3, 16, 20)).astype(np.float32) for _ in range(3)]
    ranges = conv_input_ranges(net, inputs)
    # The first conv sees the data itself; the others ReLU outputs (0 up).
    assert ranges[0] == pytest.approx((min(x.min() for x in inputs),
                                       max(x.max() for x in inputs)))
    assert len(ranges) == 3 and all(low == 0 and high > 0 for low, high in ranges[1:])
    for keep, quantized in (((0, -1), 1), ((), 3)):
        path = quantize(net, ranges, str(tmp_path / f"q{len(keep)}.onnx"), keep)
        model = onnx.load(path)
        ops = [n.op_type for n in model.graph.node]
        assert ops.count("QuantizeLinear") == quantized
        assert ops.count("DequantizeLinear") == 2 * quantized         # input and weights
        assert {p.key: p.value for p in model.metadata_props} == {"kept": "yes"}
        expected, got = _run(net, inputs[0]), _run(path, inputs[0])
        error = np.abs(got - expected).mean() / np.abs(expected).mean()
        assert 1e-5 < error < 0.03                   # rounded, but only by int8's steps
    with pytest.raises(GluonSRError, match="2 calibrated ranges for a network of 3"):
        quantize(net, ranges[:2], str(tmp_path / "bad.onnx"))
    assert not (tmp_path / "bad.onnx").exists()


@pytest.fixture
def seeded_decoder(tmp_path):
    """A saved AdaIN decoder at width 0.125 with the same random weights every run, so that
    its int8 rounding error is the same every run."""
    import mxnet as mx

    from gluon_sr.archs import get_model
    from gluon_sr.model_store import save_model

    mx.random.seed(0)
    decoder = get_model("adain_decoder", width=0.125)
    decoder.initialize(mx.init.Xavier())
    decoder(mx.nd.zeros((1, 512, 2, 2)))
    return save_model(decoder, str(tmp_path / "params"), "int8_adain", {"task": "adain"})


def test_adain_int8_needs_recorded_ranges_then_runs_near_fp32(tmp_path, seeded_decoder, vgg_file,
                                                              image_folder):
    tiny_decoder = seeded_decoder
    from gluon_sr.deploy import auto
    from gluon_sr.evaluation import adain_int8_ranges, style_quality
    from gluon_sr.infer.loader import load_adain

    with pytest.raises(GluonSRError, match="calibrated ranges"):
        load_adain(tiny_decoder, vgg_file, backend="openvino", precision="int8")
    assert adain_int8_ranges.main(["--model", tiny_decoder, "--photos", image_folder,
                                   "--paintings", image_folder, "--vgg", vgg_file,
                                   "--write-metrics", "--out", str(tmp_path / "ranges.json")]) == 0
    entry = json.load(open(tiny_decoder))["deployment"]["openvino_int8"]
    assert len(entry["decoder_conv_input_ranges"]) == 8                 # the decoder's convs
    int8, _ = load_adain(tiny_decoder, vgg_file, backend="openvino", precision="int8")
    reference, _ = load_adain(tiny_decoder, vgg_file)
    assert (int8.backend, int8.precision) == ("openvino", "int8")
    # Unclipped (the random decoder's picture is mostly clipped): the features of a photo like
    # the calibration's decoded, rounded by int8's steps only.
    feats = reference.encode(smooth_image(np.random.default_rng(5), 40, 48).astype(np.float32))
    got, expected = int8.decode(feats), reference.decode(feats)
    # (The random 8-channel decoder rounds worse than the trained one: 2.8% here.)
    assert 1e-5 < np.abs(got - expected).mean() / np.abs(expected).mean() < 0.05
    # auto offers it only once the guard is recorded, and only above 40 dB.
    meta = json.load(open(tiny_decoder))
    assert ("openvino", "int8") not in auto.candidates(meta)
    with pytest.raises(GluonSRError, match="give --paintings"):
        style_quality.main(["--models", tiny_decoder, "--backend", "openvino", "--precision",
                            "int8", "--content", image_folder, "--vgg", vgg_file])
    out = tmp_path / "quality.json"
    assert style_quality.main(["--models", tiny_decoder, "--backend", "openvino", "--precision",
                               "int8", "--content", image_folder, "--paintings", image_folder,
                               "--size", "40", "--vgg", vgg_file, "--write-metrics",
                               "--out", str(out)]) == 0
    rows = json.load(open(out))["models"][tiny_decoder]
    assert len(rows) == 3 * 3                        # top-level photos x paintings
    entry = json.load(open(tiny_decoder))["deployment"]["openvino_int8"]
    worst = min(r["output_psnr_db"] for r in rows)                # recorded rounded down
    assert entry["min_output_psnr_db"] == np.floor(100 * worst) / 100 <= worst
    assert entry["decoder_conv_input_ranges"]        # kept beside the guard
    for psnr, offered in ((41.0, True), (39.0, False)):
        meta["deployment"]["openvino_int8"]["min_output_psnr_db"] = psnr
        assert (("openvino", "int8") in auto.candidates(meta)) == offered


def test_adain_int8_calibration_refuses_a_folder_without_images(tmp_path, tiny_decoder,
                                                                image_folder):
    (tmp_path / "empty").mkdir()
    code, _, err = run_script("-m", "gluon_sr.evaluation.adain_int8_ranges", "--model", tiny_decoder,
                              "--photos", tmp_path / "empty", "--paintings", image_folder)
    assert_one_line_error(code, err, "not a folder with images")
    assert "deployment" not in json.load(open(tiny_decoder))
