import mxnet as mx
import numpy as np
import pytest

from conftest import smooth_image
from gluon_sr.archs import get_model
from gluon_sr.utils.errors import GluonSRError
from gluon_sr.deploy.precision import calibration_batches, convert


def trained_like_net():
    mx.random.seed(0)
    net = get_model("edsr", scale=2, channels=16, num_blocks=2)
    net.initialize(mx.init.Xavier(rnd_type="uniform", factor_type="in", magnitude=1))
    net(mx.nd.zeros((1, 3, 8, 8)))
    return net


@pytest.mark.parametrize("precision,min_psnr", [("fp32", 100.0), ("bf16", 45.0), ("int8", 40.0)])
def test_reduced_precision_stays_close_to_fp32(precision, min_psnr):
    rgb = smooth_image(np.random.default_rng(0), 72, 80).astype(np.float32)
    x = mx.nd.array(rgb.transpose(2, 0, 1)[None])
    reference = trained_like_net()(x).asnumpy()
    try:
        fast = convert(trained_like_net(), precision, calib_images=[rgb])
    except GluonSRError as e:
        if precision == "bf16" and "not available here" in str(e):
            pytest.skip(f"this CPU has no bf16 kernels in oneDNN 2.4 ({e})")
        raise
    out = fast(x).asnumpy()
    assert out.shape == reference.shape and out.dtype == np.float32
    mse = np.mean((out - reference) ** 2)
    assert 10 * np.log10(1.0 / max(mse, 1e-12)) >= min_psnr
    # Other input sizes work too (tiles and images come in every shape).
    assert fast(mx.nd.array(rgb[:40, :52].transpose(2, 0, 1)[None])).shape == (1, 3, 80, 104)


def test_int8_needs_big_enough_calibration_images():
    with pytest.raises(GluonSRError, match="calibration"):
        calibration_batches([np.zeros((20, 20, 3), np.float32)])
    from gluon_sr.infer.loader import load_for_inference

    with pytest.raises(GluonSRError, match="unknown precision"):
        load_for_inference("sr_x4", precision="fp8")
