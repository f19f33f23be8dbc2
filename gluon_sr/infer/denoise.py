"""`--denoise`: for each input, the model of a family trained for its JPEG noise.

Like waifu2x, the anime models come in a family, one model per band of JPEG quality its
inputs were compressed with in training (none for the clean model). A model's sidecar names
its family and band: `"inference": {"denoise": {"family": "sr_x2_anime", "jpeg_quality":
[65, 85]}}`. `auto` reads the input's quality from its quantisation tables (a PNG counts as
clean) and takes the model whose band holds it: above every band the clean model, below
every band the one trained on the strongest compression.
"""
from gluon_sr.infer.upscale import Upscaler
from gluon_sr.model_store import load_model_description, models_where
from gluon_sr.utils.errors import GluonSRError


def family_of(model_name):
    """[(band or None, model name)] of `model_name`'s family, clean first, then by falling
    quality."""
    denoise = load_model_description(model_name).get("inference", {}).get("denoise")
    if not denoise:
        raise GluonSRError(f"--denoise: model {model_name} has no denoising family; use an "
                           "anime model such as sr_x2_anime")
    family = denoise["family"]
    members = [(m["inference"]["denoise"].get("jpeg_quality"), name) for name, m in models_where(
        lambda m: m.get("inference", {}).get("denoise", {}).get("family") == family,
        with_meta=True)]
    return sorted(members, key=lambda pair: -1 if pair[0] is None else 100 - pair[0][1])


def level_for_quality(family, quality):
    """Index into `family` for an input of JPEG `quality` (None: not a JPEG)."""
    if quality is None:
        return 0
    bands = [(i, band) for i, (band, _) in enumerate(family) if band is not None]
    if not bands or quality > max(band[1] for _, band in bands):
        return 0
    inside = [i for i, band in bands if band[0] <= quality <= band[1]]
    return inside[0] if inside else min(bands, key=lambda b: b[1][0])[0]


class DenoisingUpscaler:
    """An Upscaler per noise level of a family, loaded when first needed; `choice` says what
    the last image got."""

    def __init__(self, model_name, denoise, **upscaler_options):
        self.family = family_of(model_name)
        if denoise != "auto" and not 0 <= int(denoise) < len(self.family):
            raise GluonSRError(f"--denoise {denoise}: family of {model_name} has levels "
                               f"0-{len(self.family) - 1}")
        self.denoise = denoise
        self.options = upscaler_options
        self.upscalers = {}
        first = self._upscaler(0)
        self.scale, self.suffix = first.scale, first.suffix
        self.choice = ""

    def _upscaler(self, level):
        if level not in self.upscalers:
            self.upscalers[level] = Upscaler(self.family[level][1], **self.options)
        return self.upscalers[level]

    def output_size(self, width, height):
        return width * self.scale, height * self.scale

    def __call__(self, image):
        if self.denoise == "auto":
            level = level_for_quality(self.family, image.jpeg_quality)
            source = "not a JPEG" if image.jpeg_quality is None else \
                f"JPEG quality ~{image.jpeg_quality}"
            self.choice = f"denoise auto: {source} -> {self.family[level][1]}"
        else:
            level = int(self.denoise)
            self.choice = f"denoise {level}: {self.family[level][1]}"
        return self._upscaler(level)(image)
