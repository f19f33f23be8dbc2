"""The ranges AdaIN's int8 decoder is built from (gluon_sr.deploy.adain_int8), measured on
training photos stylised with training paintings and recorded in the model's sidecar:

    python -m gluon_sr.evaluation.adain_int8_ranges --photos ../shared/data/train/BSDS200 \\
        --paintings ../shared/data/style_train --write-metrics

Never the held-out paintings: the quality guard (evaluation.style_quality) is measured on them.
"""
import os

from gluon_sr.deploy.adain_int8 import ENTRY
from gluon_sr.utils.errors import ArgumentParser, GluonSRError, run_cli

CALIBRATION_SIDE = 384               # photos' longer side


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
    p.add_argument("--photos", required=True, help="folder of training photos")
    p.add_argument("--paintings", required=True, help="folder of training paintings; never "
                   "the held-out ones the quality guard is measured on")
    p.add_argument("--count", type=int, default=32, help="photos used (the first, sorted)")
    add_measurement_arguments(p, "adain_int8.json", "the ranges in the model's sidecar")
    return p.parse_args(argv)


def main(argv=None):
    from gluon_sr.evaluation.records import update_sidecar
    from gluon_sr.utils.fileio import atomic_write_json
    from gluon_sr.utils.imageio import list_images

    args = parse_args(argv)
    for folder in (args.photos, args.paintings):
        if not os.path.isdir(folder) or not list_images([folder]):
            raise GluonSRError(f"{folder}: not a folder with images")
    photos, paintings = list_images([args.photos])[:args.count], list_images([args.paintings])
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
