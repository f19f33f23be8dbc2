"""A detector for the bright blobs instance-norm style networks paint into flat areas.

A blob is a near-saturated region of the output whose edge is not in the photo: the network
drew a bright plateau where the photo is featureless (docs/style_blobs.md). Per region:

1. near-saturated: the brightest channel, smoothed (Gaussian, sigma 1 px), >= 0.94; a 5x5
   opening drops the thin highlights of brush strokes and tile joints;
2. large: at least 0.5% of the image, about 27 x 20 px at 384 x 288, a spot one sees at a
   glance in a gallery cell. On the shipped networks at 384 px the blobs measured 2.7-5.5%,
   the mosaic network's pink ones 0.5-0.7%; bright strokes and tiles that follow the photo
   stay under 0.5% once opened;
3. absent from the photo: across the region's boundary (a ring 2-8 px outside it) the
   output's brightness drops by at least 0.1 and by at least 3x as much as the photo's does.
   A white wall or a bright cloud in the photo has its own edge there and is not counted.
"""
import numpy as np
from scipy import ndimage

SATURATED = 0.94
MIN_AREA = 0.005
MIN_CONTRAST = 0.1
CONTRAST_RATIO = 3.0


def _brightness(rgb):
    return ndimage.gaussian_filter(np.asarray(rgb, dtype=np.float64).max(axis=2), 1.0)


def find_blobs(photo, output):
    """Blobs of `output` (HxWx3 floats in 0..1) not present in `photo` (same size):
    [{"area": fraction of the image, "contrast": output drop across the edge,
      "photo_contrast": the photo's drop there, "box": (top, left, bottom, right)}]."""
    if photo.shape[:2] != output.shape[:2]:
        raise ValueError(f"photo {photo.shape[:2]} and output {output.shape[:2]} differ in size")
    out_v, photo_v = _brightness(output), _brightness(photo)
    mask = ndimage.binary_opening(out_v >= SATURATED, np.ones((5, 5), bool))
    labels, count = ndimage.label(mask)
    blobs = []
    for index, region in enumerate(ndimage.find_objects(labels), start=1):
        component = labels == index
        area = component.sum() / component.size
        if area < MIN_AREA:
            continue
        ring = (ndimage.binary_dilation(component, iterations=8)
                & ~ndimage.binary_dilation(component, iterations=2))
        if not ring.any():
            continue
        contrast = out_v[component].mean() - out_v[ring].mean()
        photo_contrast = photo_v[component].mean() - photo_v[ring].mean()
        if contrast >= MIN_CONTRAST and contrast >= CONTRAST_RATIO * abs(photo_contrast):
            blobs.append({"area": round(float(area), 4), "contrast": round(float(contrast), 3),
                          "photo_contrast": round(float(photo_contrast), 3),
                          "box": (region[0].start, region[1].start, region[0].stop,
                                  region[1].stop)})
    return blobs
