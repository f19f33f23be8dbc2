"""Validation during training: Y-PSNR of the network against bicubic on held-out HR images."""
import numpy as np

from .degrade import downscale, mod_crop
from .errors import GluonSRError
from .imageio import list_images, read_image, to_uint8
from .imresize import imresize
from .inference import run_network
from .metrics import psnr_y


class SRValidator:
    """Prepares LR/HR pairs once (with the training recipe's degradation) and scores a net."""

    def __init__(self, folder, scale, blur_sigma=0.0, resize="matlab", max_images=10,
                 max_side=256):
        paths = list_images([folder])[:max_images]
        if not paths:
            raise GluonSRError(f"{folder}: no validation images found")
        self.scale = scale
        self.pairs = []
        for path in paths:
            hr = to_uint8(read_image(path).rgb)
            h, w = hr.shape[:2]
            # A centre crop keeps validation cheap on a CPU.
            ch, cw = min(h, max_side), min(w, max_side)
            top, left = (h - ch) // 2, (w - cw) // 2
            hr = mod_crop(hr[top:top + ch, left:left + cw], scale)
            lr = downscale(hr, scale, blur_sigma, resize)
            self.pairs.append((lr.astype(np.float32) / 255.0, hr.astype(np.float32) / 255.0))
        self.bicubic_psnr = float(np.mean([
            psnr_y(np.clip(imresize(lr.astype(np.float64), scale), 0, 1), hr, scale)
            for lr, hr in self.pairs]))

    def evaluate(self, net, ctx=None):
        scores = [psnr_y(run_network(net, lr, self.scale, tile=0, ctx=ctx), hr, self.scale)
                  for lr, hr in self.pairs]
        return float(np.mean(scores))
