"""Faster CPU inference for trained networks: oneDNN (MKLDNN) graph fusion, bf16 and int8.

    fp32   hybridized, then partitioned for the MKLDNN backend (conv + bias + ReLU fused)
    bf16   MXNet AMP conversion: convolutions in bfloat16 (native on CPUs with AVX512-BF16)
    int8   MXNet's MKLDNN post-training quantization, calibrated (naive min/max) on crops of
           natural images; the first and last convolutions stay fp32 (input and output colour
           precision matter most to PSNR)

The quality cost is measured, not assumed: `python -m gluon_sr.evaluation.evaluate --precision int8`.
"""
import json
import os

import numpy as np

from gluon_sr.utils.errors import GluonSRError, describe
from gluon_sr.utils.paths import EXAMPLES_DIR

CALIB_SIDE = 64


def example_images():
    from gluon_sr.utils.imageio import list_images, read_image

    return [read_image(p).rgb for p in list_images([EXAMPLES_DIR])
            if not os.path.splitext(p)[0].endswith(("_x2", "_x4", "_x8"))]


def calibration_batches(images, per_image=4, batch_size=4, seed=0):
    """Random CALIB_SIDE^2 crops of HxWx3 float images as an mx.io iterator named 'data'."""
    import mxnet as mx

    rng = np.random.default_rng(seed)
    crops = []
    for img in images:
        h, w = img.shape[:2]
        if h < CALIB_SIDE or w < CALIB_SIDE:
            continue
        for _ in range(per_image):
            y, x = rng.integers(0, h - CALIB_SIDE + 1), rng.integers(0, w - CALIB_SIDE + 1)
            crops.append(img[y:y + CALIB_SIDE, x:x + CALIB_SIDE].transpose(2, 0, 1))
    if len(crops) < batch_size:
        raise GluonSRError(f"int8 calibration needs images of at least {CALIB_SIDE}x{CALIB_SIDE} px")
    data = mx.nd.array(np.stack(crops).astype(np.float32))
    return mx.io.NDArrayIter(data=data, batch_size=batch_size, data_name="data",
                             last_batch_handle="discard")


def _first_and_last_convolutions(net):
    """Names of the first and last Convolution nodes of a hybridized net's graph."""
    import mxnet as mx

    graph = json.loads(net(mx.sym.var("data")).tojson())
    convs = [n["name"] for n in graph["nodes"] if n["op"] == "Convolution"]
    return sorted({convs[0], convs[-1]}) if convs else []


def convert(net, precision, calib_images=None, sample_shape=(1, 3, 64, 64)):
    """A network computing `net`'s function in the given precision, ready for inference.

    `net` must be a hybridizable gluon-sr network with initialised parameters. For int8,
    `calib_images` (HxWx3 floats in 0..1; default: the bundled examples) provide the
    activation ranges.
    """
    import mxnet as mx

    sample = mx.nd.zeros(sample_shape)
    if precision == "fp32":
        net.hybridize(static_alloc=True)
        net.optimize_for(sample, backend="MKLDNN", static_alloc=True)
        return net
    net.hybridize()
    net(sample)
    try:
        if precision == "bf16":
            from mxnet.contrib import amp

            converted = amp.convert_hybrid_block(net, target_dtype="bfloat16", ctx=mx.cpu())
        else:
            from mxnet.contrib.quantization import quantize_net

            calib = calibration_batches(calib_images or example_images(), per_image=16)
            converted = quantize_net(net, quantized_dtype="auto", quantize_mode="full",
                                     exclude_layers=_first_and_last_convolutions(net),
                                     calib_data=calib, calib_mode="naive", ctx=mx.cpu(),
                                     logger=None)
            converted.hybridize(static_alloc=True)
        # oneDNN only says at the first forward pass that this CPU lacks the kernels
        # (bf16 needs AVX-512): ask now, while the error can still name the precision.
        converted(sample).wait_to_read()
    except GluonSRError:
        raise
    except Exception as e:  # MXNet reports unsupported graphs and CPUs with bare errors
        raise GluonSRError(f"{precision} inference is not available here: {describe(e)}")
    return converted
