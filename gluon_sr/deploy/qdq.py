"""int8 for OpenVINO by quantize / dequantize pairs in an exported ONNX network.

Every convolution but those kept in float gets its input quantized per tensor (uint8 after a
ReLU, else int8 symmetric about 0) over the range that input took on calibration data, and its
weights per output channel (int8, symmetric); OpenVINO fuses each pair into an int8
convolution (VNNI / AMX). The range is the plain minimum and maximum seen: on the AdaIN decoder,
measured, clipping the top 0.01% of values or choosing the clip that minimises the squared
quantization error each cost 9 dB of output PSNR against fp32 on a vivid painting, because the
rare large activations carry the painting's strongest strokes (docs/adain.md).

The ranges are measured once, with the data the network was trained on, and saved with the
model; the quantized ONNX is then built from the float export and those ranges wherever the
model runs, without data.
"""
import numpy as np

from gluon_sr.utils.errors import GluonSRError


def _onnx():
    try:
        import onnx
    except ImportError:
        raise GluonSRError("int8 on OpenVINO needs onnx: pip install onnx")
    return onnx


def conv_input_ranges(onnx_path, inputs):
    """[(min, max)] of each Conv's input, in graph order, over `inputs` (NCHW float32 arrays)
    run through the float network by OpenVINO."""
    import openvino as ov

    onnx = _onnx()
    model = onnx.load(onnx_path)
    names = [n.input[0] for n in model.graph.node if n.op_type == "Conv"]
    for name in names:
        model.graph.output.append(onnx.helper.make_tensor_value_info(
            name, onnx.TensorProto.FLOAT, None))
    core = ov.Core()
    compiled = core.compile_model(core.read_model(model.SerializeToString(), b""), "CPU",
                                  {"INFERENCE_PRECISION_HINT": "f32"})
    low, high = np.full(len(names), np.inf), np.full(len(names), -np.inf)
    for x in inputs:
        result = compiled(np.ascontiguousarray(x, np.float32))
        for i in range(len(names)):
            values = result[compiled.outputs[1 + i]]
            low[i], high[i] = min(low[i], values.min()), max(high[i], values.max())
    return [(float(lo), float(hi)) for lo, hi in zip(low, high)]


def quantize(onnx_path, ranges, out_path, keep_float=(0, -1)):
    """Write the int8 form of `onnx_path` to `out_path` (atomically): quantize / dequantize
    pairs before every Conv whose index (graph order; negative from the end) is not in
    `keep_float`, over `ranges` (conv_input_ranges). The model's metadata (the gluon-sr
    description) is kept."""
    from gluon_sr.utils.fileio import atomic_path, writing

    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(onnx_path)
    graph = model.graph
    convs = [n for n in graph.node if n.op_type == "Conv"]
    if len(ranges) != len(convs):
        raise GluonSRError(f"{len(ranges)} calibrated ranges for a network of {len(convs)} "
                           "convolutions: calibrated for another network")
    keep_float = {i % len(convs) for i in keep_float}
    float_weights = {w.name: w for w in graph.initializer}
    nodes, added, index = [], [], -1
    for node in graph.node:
        index += node.op_type == "Conv"                # this conv's place among the convs
        if node.op_type == "Conv" and index not in keep_float:
            (low, high), x, w = ranges[index], node.input[0], node.input[1]
            if low >= 0:                               # after a ReLU: all of uint8's levels
                scale, zero_type = max(high, 1e-8) / 255, TensorProto.UINT8
            else:
                scale, zero_type = max(-low, high, 1e-8) / 127, TensorProto.INT8
            kernel = numpy_helper.to_array(float_weights.pop(w))
            w_scale = np.abs(kernel).reshape(len(kernel), -1).max(axis=1) / 127 + 1e-12
            levels = np.clip(np.round(kernel / w_scale[:, None, None, None]), -127, 127)
            added += [numpy_helper.from_array(np.array(scale, np.float32), f"{x}_scale"),
                      helper.make_tensor(f"{x}_zero", zero_type, [], [0]),
                      numpy_helper.from_array(levels.astype(np.int8), f"{w}_int8"),
                      numpy_helper.from_array(w_scale.astype(np.float32), f"{w}_scale"),
                      numpy_helper.from_array(np.zeros(len(kernel), np.int8), f"{w}_zero")]
            nodes += [
                helper.make_node("QuantizeLinear", [x, f"{x}_scale", f"{x}_zero"], [f"{x}_q"]),
                helper.make_node("DequantizeLinear", [f"{x}_q", f"{x}_scale", f"{x}_zero"],
                                 [f"{x}_dq"]),
                helper.make_node("DequantizeLinear", [f"{w}_int8", f"{w}_scale", f"{w}_zero"],
                                 [f"{w}_dq"], axis=0)]
            node.input[0], node.input[1] = f"{x}_dq", f"{w}_dq"
        nodes.append(node)
    kept = [w for w in graph.initializer if w.name in float_weights]
    del graph.node[:], graph.initializer[:]
    graph.node.extend(nodes)
    graph.initializer.extend(kept + added)
    with writing(out_path), atomic_path(out_path, ".onnx") as tmp:
        onnx.save(model, tmp)
    return out_path
