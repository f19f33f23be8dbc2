"""The blob detector (evaluation/blobs.py) on synthetic skies and on real stylised photos."""
import os

import numpy as np
import pytest

from gluon_sr.evaluation.blobs import find_blobs


def sky(h=180, w=240):
    """A featureless photo: a vertical blue gradient, as an overcast or clear sky."""
    ramp = np.linspace(0.55, 0.8, h)[:, None, None]
    return np.broadcast_to(ramp * np.array([0.8, 0.9, 1.0]), (h, w, 3)).copy()


def ellipse(h, w, cy, cx, ry, rx):
    y, x = np.mgrid[:h, :w]
    return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1


def test_a_white_plateau_painted_into_a_flat_sky_is_one_blob():
    photo = sky()
    stylised = photo * 0.8 + 0.05
    stylised[ellipse(180, 240, 60, 120, 15, 40)] = 1.0
    blobs = find_blobs(photo, stylised)
    assert len(blobs) == 1
    assert blobs[0]["area"] == pytest.approx(np.pi * 15 * 40 / (180 * 240), rel=0.15)
    top, left, bottom, right = blobs[0]["box"]
    assert 40 <= top < 60 < bottom <= 80 and 75 <= left < 120 < right <= 165


def test_no_blob_without_the_plateau_or_when_the_photo_has_the_bright_object():
    photo = sky()
    assert find_blobs(photo, photo * 0.8 + 0.05) == []
    # The photo's own white object, kept by the network, has its edge in the photo: no blob.
    moon = ellipse(180, 240, 60, 120, 15, 40)
    photo[moon] = 0.98
    kept = photo * 0.8 + 0.05
    kept[moon] = 1.0
    assert find_blobs(photo, kept) == []


def test_small_highlights_and_thin_strokes_are_not_blobs():
    photo = sky()
    stylised = photo * 0.8
    stylised[ellipse(180, 240, 40, 40, 5, 5)] = 1.0          # a speck: 0.2% of the image
    stylised[100:102, 20:220] = 1.0                           # a 2 px stroke
    assert find_blobs(photo, stylised) == []


def test_orange_blobs_count_too():
    photo = sky()
    stylised = np.broadcast_to(np.array([0.75, 0.45, 0.3]), photo.shape).copy()
    stylised[ellipse(180, 240, 90, 100, 20, 45)] = [0.97, 0.5, 0.3]
    assert len(find_blobs(photo, stylised)) == 1


def test_a_photo_has_no_blobs_of_its_own():
    from conftest import SHARED
    from gluon_sr.infer.stylize import working_copy
    from gluon_sr.utils.imageio import read_image

    folder = os.path.join(SHARED, "data", "content")
    if not os.path.isdir(folder):
        pytest.skip("content photos not found (../shared is absent)")
    for name in ("golden_gate.jpg", "chicago.jpg", "tubingen.jpg"):
        photo = working_copy(read_image(os.path.join(folder, name)).rgb, 384)
        assert find_blobs(photo, photo) == [], name
