"""--denoise: the family of a model, and the pick by JPEG quality."""
import os

import mxnet as mx
import pytest
from PIL import Image

from conftest import run_script, save_png
from gluon_sr.archs import get_model
from gluon_sr.infer.denoise import level_for_quality
from gluon_sr.model_store import save_model

FAMILY = [(None, "clean"), ([65, 85], "noise1"), ([40, 64], "noise2")]


def test_the_band_holding_the_quality_wins():
    assert level_for_quality(FAMILY, None) == 0            # not a JPEG
    assert level_for_quality(FAMILY, 95) == 0              # above every band
    assert level_for_quality(FAMILY, 80) == 1 and level_for_quality(FAMILY, 65) == 1
    assert level_for_quality(FAMILY, 50) == 2
    assert level_for_quality(FAMILY, 10) == 2              # below every band: the strongest


@pytest.mark.slow
def test_infer_picks_the_model_for_each_input_and_says_so(tmp_path):
    params = tmp_path / "params"
    for name, band in (("toon", None), ("toon_noise1", [65, 85])):
        net = get_model("edsr", scale=2, channels=4, num_blocks=1)
        net.initialize()
        net(mx.nd.zeros((1, 3, 4, 4)))
        save_model(net, str(params), name, {"task": "sr", "inference": {
            "denoise": {"family": "toon", "jpeg_quality": band}}})
    src = save_png(tmp_path / "art.png", h=24, w=20)
    for quality in (50, 80, 95):
        Image.open(src).save(tmp_path / f"art{quality}.jpg", quality=quality)
    code, out, err = run_script("infer.py", src, *[tmp_path / f"art{q}.jpg" for q in (50, 80, 95)],
                                "--model", "toon", "--denoise", "auto", "-o", tmp_path / "o",
                                env={"GLUON_SR_PARAMS": str(params)})
    assert code == 0, err
    lines = {os.path.basename(line.split()[0]): line for line in out.splitlines()}
    assert "not a JPEG -> toon)" in lines["art.png"]
    assert "JPEG quality ~50 -> toon_noise1" in lines["art50.jpg"]
    assert "JPEG quality ~80 -> toon_noise1" in lines["art80.jpg"]
    assert "JPEG quality ~95 -> toon)" in lines["art95.jpg"]
    assert Image.open(tmp_path / "o" / "art50_x2.png").size == (40, 48)
    code, _, err = run_script("infer.py", src, "--model", "toon", "--denoise", "2",
                              env={"GLUON_SR_PARAMS": str(params)})
    assert code == 2 and "--denoise" in err
