"""How far a style network's or AdaIN's picture moves on another backend or precision: the
guard that `--backend auto` reads before it offers a reduced precision for them.

    python -m gluon_sr.evaluation.style_quality --backend mxnet --precision int8 \\
        --content ../shared/data/content --write-metrics
    python -m gluon_sr.evaluation.style_quality --models adain --backend openvino \\
        --precision int8 --content ../shared/data/content --paintings ../shared/data/style \\
        --size 384 --write-metrics

A style network has no ground truth to score PSNR against, so the reference is its own MXNet
fp32 output: for each held-out photo (top level of --content, at --size px), the PSNR of the
candidate's output against it and the relative change of the network's own loss (the objective
it was trained with; for AdaIN, every photo x --paintings painting and the project's Gram style
loss, adain_bench's). --write-metrics records the worst photo in the sidecar under
deployment.BACKEND_PRECISION; gluon_sr.deploy.auto offers the path when that PSNR is at least
MIN_OUTPUT_PSNR_DB.
"""
import os

from gluon_sr.evaluation.metrics import output_psnr
from gluon_sr.utils.errors import ArgumentParser, GluonSRError, run_cli
from gluon_sr.utils.fileio import atomic_write_json


def compare(name, backend, precision, photos, size, vgg_weights=None, style_dir=None):
    """Per photo: PSNR of the candidate's output against MXNet fp32's, and the relative change
    of the network's training loss."""
    from gluon_sr.archs.vgg import load_loss_vgg
    from gluon_sr.evaluation.style_bench import loss_of, objective_for, style_image_for
    from gluon_sr.infer.loader import load_for_inference
    from gluon_sr.infer.stylize import run_transform, working_copy
    from gluon_sr.utils.imageio import read_image

    reference = load_for_inference(name, "mxnet", "fp32")
    if reference.task != "style":
        raise GluonSRError(f"{name} is not a style network")
    candidate = load_for_inference(name, backend, precision)
    meta = reference.meta
    vgg, _ = load_loss_vgg((*meta["style"]["style_layers"], meta["style"]["content_layer"]),
                           weights=vgg_weights)
    style_path = style_image_for(meta, style_dir)
    rows = []
    for path in photos:
        photo = working_copy(read_image(path).rgb, size)
        expected = run_transform(reference, photo, tile=0)
        got = run_transform(candidate, photo, tile=0)
        objective = objective_for(meta, vgg, photo, style_path)
        loss_expected, loss_got = loss_of(objective, expected), loss_of(objective, got)
        rows.append({"photo": os.path.basename(path), "output_psnr_db": output_psnr(expected, got),
                     "loss_change": (loss_got - loss_expected) / loss_expected})
    return rows


def compare_adain(name, backend, precision, photos, paintings, size, vgg_weights=None):
    """Per photo x painting: PSNR of the candidate's output against MXNet fp32's, and the
    relative change of its Gram style loss (adain_bench's)."""
    from gluon_sr.archs.vgg import load_loss_vgg
    from gluon_sr.evaluation.adain_bench import content_and_style_loss
    from gluon_sr.infer.adain import read_painting
    from gluon_sr.infer.gatys import StyleObjective
    from gluon_sr.infer.loader import load_adain
    from gluon_sr.infer.stylize import working_copy
    from gluon_sr.losses import CONTENT_LAYER, STYLE_LAYERS
    from gluon_sr.utils.imageio import read_image

    reference, _ = load_adain(name, vgg_weights)
    candidate, _ = load_adain(name, vgg_weights, backend=backend, precision=precision)
    vgg, _ = load_loss_vgg((*STYLE_LAYERS, CONTENT_LAYER), weights=vgg_weights)
    art = [(os.path.basename(p), read_painting(p)) for p in paintings]
    rows = []
    for path in photos:
        photo = working_copy(read_image(path).rgb, size)
        for painting_name, painting in art:
            expected, got = (t(photo, [painting]) for t in (reference, candidate))
            objective = StyleObjective(vgg, photo, painting)
            style_expected, style_got = (content_and_style_loss(objective, x)[1]
                                         for x in (expected, got))
            rows.append({"photo": os.path.basename(path), "painting": painting_name,
                         "output_psnr_db": output_psnr(expected, got),
                         "loss_change": (style_got - style_expected) / style_expected})
    return rows


def record(meta, rows, path_name, protocol):
    """The worst photo's numbers into the sidecar's deployment entry for this path (beside
    what else it holds: AdaIN's int8 ranges). The PSNR is rounded down: a path at 39.996 dB
    is recorded at 39.99, under auto's 40 dB rule, not at 40.00."""
    import math

    meta.setdefault("deployment", {}).setdefault(path_name, {}).update({
        "min_output_psnr_db": math.floor(100 * min(r["output_psnr_db"] for r in rows)) / 100,
        "max_abs_loss_change": round(max(abs(r["loss_change"]) for r in rows), 4),
        "protocol": protocol})


def parse_args(argv=None):
    from gluon_sr.evaluation.records import add_measurement_arguments

    p = ArgumentParser(description="Style networks or AdaIN on another backend / precision "
                       "against MXNet fp32 (JSON)")
    p.add_argument("--models", nargs="*", default=None, help="default: every style network")
    p.add_argument("--backend", choices=("mxnet", "openvino"), required=True)
    p.add_argument("--precision", choices=("fp32", "bf16", "int8"), required=True)
    p.add_argument("--content", required=True, help="folder of held-out photos (top level)")
    p.add_argument("--paintings", help="AdaIN: folder of held-out paintings (top level)")
    p.add_argument("--size", type=int, default=512, help="photos' longer side")
    p.add_argument("--style-dir", default=None, help="where the paintings are (default: the "
                   "path recorded at training)")
    add_measurement_arguments(p, "style_quality.json", "the worst photo's numbers in each "
                              "model's sidecar (what --backend auto reads)")
    return p.parse_args(argv)


def main(argv=None):
    from gluon_sr.evaluation.adain_bench import image_files
    from gluon_sr.evaluation.records import update_sidecar
    from gluon_sr.model_store import load_model_description, models_where

    args = parse_args(argv)
    if (args.backend, args.precision) == ("mxnet", "fp32"):
        raise GluonSRError("mxnet fp32 is the reference; choose another backend or precision")
    names = args.models
    if names is None:
        names = models_where(lambda m: m.get("task") == "style")
    if not names:
        raise GluonSRError("no style networks to compare")
    photos = image_files(args.content)
    where = f"{len(photos)} photos of {os.path.basename(os.path.normpath(args.content))}"
    report = {"backend": args.backend, "precision": args.precision, "protocols": {},
              "models": {}}
    for name in names:
        if load_model_description(name).get("task") == "adain":
            if not args.paintings:
                raise GluonSRError(f"{name} is an AdaIN model: give --paintings DIR")
            paintings = image_files(args.paintings)
            rows = compare_adain(name, args.backend, args.precision, photos, paintings,
                                 args.size, args.vgg or None)
            pairs = f"{where} x {len(paintings)} paintings of " \
                f"{os.path.basename(os.path.normpath(args.paintings))}"
        else:
            rows = compare(name, args.backend, args.precision, photos, args.size,
                           args.vgg or None, args.style_dir)
            pairs = where
        protocol = report["protocols"][name] = f"{pairs} at {args.size} px, against mxnet fp32"
        report["models"][name] = rows
        print(f"{name} {args.backend} {args.precision}: output PSNR against fp32 "
              f"{min(r['output_psnr_db'] for r in rows):.2f} dB (worst), loss change "
              f"{max(abs(r['loss_change']) for r in rows):.2%} (largest)")
        if args.write_metrics:
            sidecar = update_sidecar(name, lambda meta, rows=rows, protocol=protocol: record(
                meta, rows, f"{args.backend}_{args.precision}", protocol))
            print(f"updated {sidecar}")
    atomic_write_json(args.out, report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    run_cli(main)
