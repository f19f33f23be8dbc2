"""AdaIN's int8 path on OpenVINO: the decoder in int8 (gluon_sr.deploy.qdq) but for its first and
last convolutions, which, with the VGG16 encoder, run in bf16 where the CPU computes it
natively, else in f32.

    python -m gluon_sr.deploy.adain_int8 --photos ../shared/data/train/BSDS200 \\
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
colours, is the cheapest (3 output channels) and quantized alone moves the picture the most
after the full-resolution 64-channel one.
"""
import os

import numpy as np

from gluon_sr.utils.errors import ArgumentParser, GluonSRError, run_cli

ENTRY = "openvino_int8"              # the sidecar's deployment entry
KEEP_FLOAT = (0, -1)                 # the decoder's convolutions left in float, by index
CALIBRATION_SIDE = 384               # photos' longer side


def recorded_ranges(meta):
    """The decoder's calibrated conv input ranges from the sidecar, or a GluonSRError."""
    ranges = meta.get("deployment", {}).get(ENTRY, {}).get("decoder_conv_input_ranges")
    if not ranges:
        raise GluonSRError("AdaIN int8 needs the decoder's calibrated ranges in the model's "
                           "sidecar: python -m gluon_sr.deploy.adain_int8 --photos DIR "
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


def calibration_inputs(transfer, photos, paintings):
    """Decoder inputs as inference makes them: each photo (framed, at CALIBRATION_SIDE px)
    with its own features and with the features AdaIN gives it from one painting each."""
    from gluon_sr.infer.adain import ALIGN, frame_border, read_painting
    from gluon_sr.infer.stylize import working_copy
    from gluon_sr.infer.tiling import reflect_frame
    from gluon_sr.utils.imageio import read_image

    for i, path in enumerate(photos):
        photo = working_copy(read_image(path).rgb, CALIBRATION_SIDE)
        framed = reflect_frame(photo, frame_border(*photo.shape[:2]), ALIGN)
        feats = transfer.encode(framed)
        style = transfer.style_statistics(read_painting(paintings[i % len(paintings)]))
        yield feats[None]
        yield transfer.target_features(feats, [style])[None]


def calibrate(name, photos, paintings, vgg_weights=None):
    """The decoder's conv input ranges (qdq.conv_input_ranges) on these photos and paintings."""
    from gluon_sr.deploy.auto import cached_adain_export
    from gluon_sr.deploy.qdq import conv_input_ranges
    from gluon_sr.infer.loader import load_adain

    transfer, meta = load_adain(name, vgg_weights, backend="openvino", precision="fp32")
    _, decoder_path = cached_adain_export(name, meta, vgg_weights)
    return conv_input_ranges(decoder_path, calibration_inputs(transfer, photos, paintings))


def parse_args(argv=None):
    from gluon_sr.evaluation.records import add_measurement_arguments

    p = ArgumentParser(description="Calibrate the AdaIN decoder's int8 form for OpenVINO")
    p.add_argument("--model", default="adain")
    p.add_argument("--photos", required=True, help="folder of training photos (top level)")
    p.add_argument("--paintings", required=True, help="folder of training paintings; never "
                   "the held-out ones the quality guard is measured on")
    p.add_argument("--count", type=int, default=32, help="photos used (the first, sorted)")
    add_measurement_arguments(p, "adain_int8.json", "the ranges in the model's sidecar")
    return p.parse_args(argv)


def main(argv=None):
    from gluon_sr.evaluation.adain_bench import image_files
    from gluon_sr.evaluation.records import update_sidecar
    from gluon_sr.utils.fileio import atomic_write_json

    args = parse_args(argv)
    photos, paintings = image_files(args.photos)[:args.count], image_files(args.paintings)
    ranges = [[round(low, 5), round(high, 5)]
              for low, high in calibrate(args.model, photos, paintings, args.vgg or None)]
    protocol = (f"{len(photos)} photos of {os.path.basename(os.path.normpath(args.photos))} at "
                f"{CALIBRATION_SIDE} px, own features and stylised with paintings of "
                f"{os.path.basename(os.path.normpath(args.paintings))}; min / max")
    report = {"model": args.model, "decoder_conv_input_ranges": ranges, "calibration": protocol}
    atomic_write_json(args.out, report)
    if args.write_metrics:
        def record(meta):
            # New ranges make a new decoder: an older quality record no longer applies.
            meta.setdefault("deployment", {})[ENTRY] = {
                "decoder_conv_input_ranges": ranges, "calibration": protocol}
        print(f"updated {update_sidecar(args.model, record)}")
    print(f"{len(ranges)} ranges; wrote {args.out}")
    return 0


if __name__ == "__main__":
    run_cli(main)
