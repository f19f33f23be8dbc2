"""`AdaINStylizer`: what infer.py runs for `--style-image PAINTING` (any painting, one forward
pass; the pipeline is gluon_sr.infer.adain, the loading gluon_sr.infer.loader.load_adain)."""
import os

import numpy as np

from gluon_sr.infer.adain import STYLE_SIZE, read_painting
from gluon_sr.infer.loader import load_adain
from gluon_sr.infer.stylize import working_alpha, working_copy, working_size
from gluon_sr.utils.errors import GluonSRError


class AdaINStylizer:
    """`infer.py photo.jpg --style-image painting.jpg`: a LoadedImage in, (rgb, alpha) out."""

    def __init__(self, style_images, model, weights=None, alpha=1.0, mask=None,
                 preserve_color=False, vgg_weights=None, size=0, style_size=STYLE_SIZE,
                 tile=None, backend="mxnet", precision="fp32", ctx=None):
        from gluon_sr.utils.imageio import read_image

        if weights is not None:
            if len(weights) != len(style_images):
                raise GluonSRError(f"--style-weights gives {len(weights)} weights for "
                                   f"{len(style_images)} style images")
            if min(weights) < 0 or sum(weights) <= 0:
                raise GluonSRError("--style-weights must be >= 0 and not all 0")
            weights = np.asarray(weights, np.float64) / sum(weights)
        if mask is not None and len(style_images) > 2:
            raise GluonSRError("--mask takes one style image (inside; the photo outside) or "
                               f"two (inside, outside), not {len(style_images)}")
        if mask is not None and weights is not None:
            raise GluonSRError("--style-weights mixes styles everywhere; with --mask each "
                               "region has its own style")
        self.transfer, self.meta = load_adain(model, vgg_weights, ctx, backend, precision)
        self.paintings = [read_painting(p, style_size) for p in style_images]
        self.mask = None
        if mask is not None:
            self.mask = read_image(mask).rgb.mean(axis=-1)
        self.weights, self.alpha, self.preserve_color = weights, alpha, preserve_color
        self.size, self.tile = size, tile
        self.model = self.transfer              # infer.py reports its name and backend
        names = [os.path.splitext(os.path.basename(p))[0] for p in style_images]
        self.suffix = "_".join(names)

    def output_size(self, width, height):
        return working_size(width, height, self.size)

    def __call__(self, image):
        content = working_copy(image.rgb, self.size)
        out = self.transfer(content, self.paintings, self.weights, self.mask, self.alpha,
                            self.tile, self.preserve_color)
        return out.astype(np.float32), working_alpha(image, self.size)
