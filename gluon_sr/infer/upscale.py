"""`Upscaler`: one SR model loaded for inference, applied to whole images (as Real-ESRGAN's
RealESRGANer): backend and precision, tiling, self-ensemble, colour post-process, alpha."""
import numpy as np

from gluon_sr.infer.loader import load_for_inference
from gluon_sr.infer.tiling import run_network, run_self_ensemble
from gluon_sr.utils.errors import GluonSRError


class Upscaler:
    def __init__(self, model_name=None, backend="mxnet", precision="fp32", ctx=None, tile=None,
                 hist_match=None, self_ensemble=False, model=None, interp=None):
        """model: an already loaded InferenceModel (then model_name, backend, precision,
        ctx and interp are not used). interp: see load_for_inference."""
        self.model = model or load_for_inference(model_name, backend, precision, ctx, interp)
        if self.model.task != "sr":
            raise GluonSRError(f"model {self.model.name} is a {self.model.task} model; "
                               "use --style NAME")
        self.scale = self.model.scale
        self.tile = tile
        self.hist_match = self.model.defaults["hist_match"] if hist_match is None else hist_match
        self.self_ensemble = self_ensemble
        self.suffix = f"x{self.scale}"

    def output_size(self, width, height):
        return width * self.scale, height * self.scale

    def __call__(self, image):
        """Upscale a LoadedImage. Returns (rgb, alpha)."""
        from gluon_sr.utils.color import match_histograms
        from gluon_sr.utils.imresize import imresize

        run = run_self_ensemble if self.self_ensemble else run_network
        # Histogram matching sees the unclipped output: clipping first would merge every
        # out-of-range pixel into one tied value, which matching cannot spread again.
        out = run(self.model, image.rgb, tile=self.tile, clip=not self.hist_match)
        if self.hist_match:
            # Seed 002's post-process: match output colours to the bicubic upscale of the input.
            reference = np.clip(imresize(image.rgb.astype(np.float64), self.scale), 0, 1)
            out = match_histograms(out, reference)
        alpha = None
        if image.alpha is not None:
            # Alpha is upscaled on its own (bicubic): the network was trained on colour only.
            alpha = np.clip(imresize(image.alpha.astype(np.float64), self.scale), 0, 1)
            alpha = alpha.astype(np.float32)
        return out, alpha
