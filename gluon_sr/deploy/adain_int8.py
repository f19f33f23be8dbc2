"""AdaIN's int8 path on OpenVINO: the decoder in int8 (gluon_sr.deploy.qdq) but for its first and
last convolutions, which, with the VGG16 encoder, run in bf16 where the CPU computes it
natively, else in f32.

    python -m gluon_sr.evaluation.adain_int8_ranges --photos ../shared/data/train/BSDS200 \\
        --paintings ../shared/data/style_train --write-metrics

measures the ranges of the decoder's convolution inputs on training photos stylised with
training paintings (and on their own features, what `--alpha 0` decodes) and records them in
the model's sidecar (deployment.openvino_int8); the int8 decoder is built from them wherever the
model runs. `gluon_sr.evaluation.style_quality --backend openvino --precision int8` then
records the quality guard `--backend auto` reads before it offers the path.

Why the encoder stays in bf16: measured against MXNet fp32 on held-out pairs (docs/adain.md),
an int8 encoder moves the stylised picture to 33-36 dB on a vivid painting (candy), because
AdaIN divides each channel of the photo's features by its spread, magnifying the rounding in
the quiet channels; the int8 decoder alone stays above the guard's 40 dB. Its first
convolution stays in float for the same reason: its input, the AdaIN target, is signed and
spans the painting's whole range (quantized, 24 dB on candy); its last, which writes the
colours, is the cheapest (3 output channels), and quantized alone it moves the picture as much
as the costly ones do (51 dB on candy, against 48-58 for each of the others alone).
"""
import os

from gluon_sr.utils.errors import GluonSRError

ENTRY = "openvino_int8"              # the sidecar's deployment entry
KEEP_FLOAT = (0, -1)                 # the decoder's convolutions left in float, by index


def recorded_ranges(meta):
    """The decoder's calibrated conv input ranges from the sidecar, or a GluonSRError."""
    ranges = meta.get("deployment", {}).get(ENTRY, {}).get("decoder_conv_input_ranges")
    if not ranges:
        raise GluonSRError("AdaIN int8 needs the decoder's calibrated ranges in the model's "
                           "sidecar: python -m gluon_sr.evaluation.adain_int8_ranges --photos DIR "
                           "--paintings DIR --write-metrics")
    return ranges


def int8_decoder(float_path, ranges):
    """The int8 ONNX of the decoder exported at `float_path`, built once beside it (the file
    name carries a digest of the ranges and KEEP_FLOAT, so a change makes a new file)."""
    import hashlib

    from gluon_sr.deploy.qdq import quantize

    digest = hashlib.sha256(repr((ranges, KEEP_FLOAT)).encode()).hexdigest()[:12]
    path = f"{os.path.splitext(float_path)[0]}.int8-{digest}.onnx"
    if not os.path.exists(path):
        quantize(float_path, ranges, path, KEEP_FLOAT)
    return path
