import os

import numpy as np
import pytest
from PIL import Image

from conftest import png_header_only, save_png
from gluon_sr.utils.errors import GluonSRError
from gluon_sr.utils.imageio import list_images, read_image, write_image


def test_rgb_round_trip(tmp_path):
    src = save_png(tmp_path / "a.png")
    img = read_image(src)
    assert img.rgb.shape == (20, 24, 3) and img.rgb.dtype == np.float32
    assert img.alpha is None and img.bit_depth == 8 and not img.gray
    write_image(str(tmp_path / "b.png"), img.rgb)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "b.png")),
                                  np.asarray(Image.open(src)))


def test_rgba_gray_and_palette(tmp_path):
    rgba = np.zeros((6, 5, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, np.arange(5) * 60
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    img = read_image(str(tmp_path / "rgba.png"))
    np.testing.assert_allclose(img.alpha[0], np.arange(5) * 60 / 255.0, atol=1e-6)
    write_image(str(tmp_path / "rgba_out.png"), img.rgb, img.alpha)
    assert Image.open(tmp_path / "rgba_out.png").mode == "RGBA"

    gray = read_image(save_png(tmp_path / "g.png", mode="L"))
    assert gray.gray and gray.rgb.shape[2] == 3
    assert np.allclose(gray.rgb[..., 0], gray.rgb[..., 1])
    write_image(str(tmp_path / "g_out.png"), gray.rgb, gray=True)
    assert Image.open(tmp_path / "g_out.png").mode == "L"

    pal = read_image(save_png(tmp_path / "p.png", mode="P"))
    assert pal.rgb.shape == (20, 24, 3) and pal.alpha is None


def test_16bit_png_keeps_16_bits(tmp_path):
    import cv2

    arr = (np.arange(8 * 9 * 3).reshape(8, 9, 3) * 97 % 65536).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), arr[..., ::-1])      # cv2 writes BGR
    img = read_image(str(tmp_path / "deep.png"))
    assert img.bit_depth == 16
    np.testing.assert_allclose(img.rgb, arr / 65535.0, atol=1e-7)
    write_image(str(tmp_path / "deep_out.png"), img.rgb, bit_depth=16)
    back = cv2.imread(str(tmp_path / "deep_out.png"), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back[..., ::-1], arr)


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((10, 30, 3), np.uint8)
    arr[:, :5] = 255                                   # white stripe on the left
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6                                   # "rotate 90 CW to display"
    im.save(tmp_path / "rot.jpg", exif=exif.tobytes(), quality=100)
    img = read_image(str(tmp_path / "rot.jpg"))
    assert img.rgb.shape[:2] == (30, 10)
    assert img.rgb[:5].mean() > 0.9                    # the stripe is now at the top


@pytest.mark.parametrize("make,message", [
    (lambda p: str(p / "missing.png"), "no such file"),
    (lambda p: (p / "empty.png").write_bytes(b"") and None or str(p / "empty.png"), "empty file"),
    (lambda p: (p / "text.png").write_text("hello") and None or str(p / "text.png"),
     "not an image"),
    (lambda p: str(p), "is a directory"),
    (lambda p: png_header_only(p / "huge.png", 100000, 100000), "too large"),
])
def test_bad_inputs_raise_one_clear_error(tmp_path, make, message):
    with pytest.raises(GluonSRError, match=message):
        read_image(make(tmp_path))


def test_truncated_image_is_reported(tmp_path):
    src = save_png(tmp_path / "full.png", h=64, w=64)
    data = open(src, "rb").read()
    (tmp_path / "cut.png").write_bytes(data[:len(data) // 2])
    with pytest.raises(GluonSRError, match="truncated|corrupt|decode"):
        read_image(str(tmp_path / "cut.png"))


def test_failed_write_leaves_no_file(tmp_path):
    rgb = np.zeros((4, 4, 3), np.float32)
    with pytest.raises(GluonSRError, match="does not exist"):
        write_image(str(tmp_path / "nope" / "out.png"), rgb)
    with pytest.raises(GluonSRError, match="alpha"):
        write_image(str(tmp_path / "out.jpg"), rgb, alpha=np.ones((4, 4)))
    with pytest.raises(GluonSRError, match="cannot write"):
        write_image(str(tmp_path / "out.unknownext"), rgb)
    assert os.listdir(tmp_path) == []


def test_list_images_recurses_in_sorted_order(image_folder):
    found = [os.path.relpath(p, image_folder) for p in list_images([image_folder])]
    assert found == sorted(found) and len(found) == 6 and "sub/img1.png" in found


@pytest.mark.parametrize("quality", [50, 80, 95])
def test_jpeg_quality_is_read_from_the_quantisation_tables(tmp_path, quality):
    src = read_image(save_png(tmp_path / "a.png", h=32, w=32))
    assert src.jpeg_quality is None                      # a PNG: no JPEG noise
    Image.open(tmp_path / "a.png").save(tmp_path / "a.jpg", quality=quality)
    assert read_image(str(tmp_path / "a.jpg")).jpeg_quality == quality
