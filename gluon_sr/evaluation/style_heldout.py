"""Per-style networks on held-out photos: how stylised, how much of the photo kept, blobs, and
how many of Gatys' iterations the network is worth.

    python -m gluon_sr.evaluation.style_heldout --photos ../shared/data/content \\
        --out docs/style_heldout.json

For each style model (a name or a sidecar path) and each photo at the top level of --photos:

- at --size px (longer side), the output of the inference path (reflected border included)
  under the project's Gatys objective (losses.py: content at relu2_2, 0.3 x Gram at
  relu1_2..relu4_3; the same weights for every style, so rows compare) against the painting at
  the network's training style size (--painting-size: one size for every network), and the
  blobs the output adds (evaluation/blobs.py);
- at --gatys-size px, under the objective the network was trained with (its own weights): the
  L-BFGS iteration at which Gatys first reaches the network's loss, started from the photo or
  (--gatys-start noise) from the white noise of Johnson et al.'s baseline, the protocol behind
  the 50-100 iterations they report for their networks (ECCV 2016, section 5.1).
"""
import json
import os

import numpy as np

from gluon_sr.evaluation.adain_bench import content_and_style_loss, image_files
from gluon_sr.evaluation.style_bench import loss_of, objective_for, painting_for
from gluon_sr.utils.errors import ArgumentParser, GluonSRError, run_cli
from gluon_sr.utils.fileio import atomic_write_json


def held_out_rows(model, vgg, photos, size, painting):
    """One row per photo: content and style loss (shared objective) and blobs at `size`."""
    from gluon_sr.evaluation.blobs import find_blobs
    from gluon_sr.infer.gatys import StyleObjective
    from gluon_sr.infer.stylize import run_transform, working_copy

    rows = []
    for path, rgb in photos.items():
        photo = working_copy(rgb, size)
        out = run_transform(model, photo, tile=0)
        content, style = content_and_style_loss(StyleObjective(vgg, photo, painting), out)
        rows.append({"photo": os.path.basename(path), "content_loss": content,
                     "style_loss": style, "blobs": len(find_blobs(photo, out))})
    return rows


def gatys_rows(model, vgg, photos, size, style_path, iters, start="photo"):
    """One row per photo: the network's loss under its own objective at `size`, and the first
    L-BFGS iteration of Gatys (from `start`) at or below it (None if not within `iters`)."""
    from gluon_sr.infer.gatys import optimise, start_image
    from gluon_sr.infer.stylize import run_transform, working_copy

    rows = []
    for path, rgb in photos.items():
        photo = working_copy(rgb, size)
        objective = objective_for(model.meta, vgg, photo, style_path)
        network_loss = loss_of(objective, run_transform(model, photo, tile=0))
        _, history = optimise(objective, start_image(photo, start), iters=iters, log=None,
                              until=lambda h, goal=network_loss: h["loss"] <= goal)
        reached = history[-1]["iter"] if history and history[-1]["loss"] <= network_loss \
            else None
        rows.append({"photo": os.path.basename(path), "network_loss": network_loss,
                     "gatys_iters_run": len(history), "gatys_iters_to_network_loss": reached})
    return rows


def summary(rows, gatys):
    # A photo where Gatys did not get there within the run counts as one iteration more.
    reached = [r["gatys_iters_to_network_loss"] or r["gatys_iters_run"] + 1 for r in gatys]
    return {
        "content_loss": float(np.mean([r["content_loss"] for r in rows])),
        "style_loss": float(np.mean([r["style_loss"] for r in rows])),
        "blobs": int(sum(r["blobs"] for r in rows)),
        "gatys_median_iters_to_network_loss": float(np.median(reached)) if reached else None,
        "gatys_not_reached": sum(not r["gatys_iters_to_network_loss"] for r in gatys),
    }


def measure(name, photos, args):
    from gluon_sr.archs.vgg import load_loss_vgg
    from gluon_sr.evaluation.style_bench import style_image_for
    from gluon_sr.infer.loader import load_for_inference

    model = load_for_inference(name)
    if model.task != "style":
        raise GluonSRError(f"{name} is not a style model")
    meta = model.meta
    vgg, _ = load_loss_vgg((*meta["style"]["style_layers"], meta["style"]["content_layer"]),
                           weights=args.vgg or None)
    vgg.hybridize()
    style_path = style_image_for(meta, args.style_dir)
    rows = held_out_rows(model, vgg, photos, args.size,
                         painting_for(meta, style_path, args.painting_size))
    gatys = (gatys_rows(model, vgg, photos, args.gatys_size, style_path, args.gatys_iters,
                        args.gatys_start) if args.gatys_iters else [])
    result = {"params_sha256": meta.get("params_sha256"), "summary": summary(rows, gatys),
              "photos": rows, "gatys": gatys}
    print(name, json.dumps(result["summary"]), flush=True)
    return result


def record_summaries(report):
    """Each model's summary into its sidecar, as metrics.held_out (Gatys from the photo) or
    metrics.held_out_gatys_from_noise."""
    from gluon_sr.evaluation.records import update_sidecar

    settings = {"photos": len(report["photos"]),
                **{k: report[k] for k in ("size", "painting_size", "gatys_size", "gatys_iters",
                                   "gatys_start")}}
    key = "held_out" if report["gatys_start"] == "photo" else "held_out_gatys_from_noise"
    for name, result in report["models"].items():
        def change(meta, summary=result["summary"]):
            meta.setdefault("metrics", {})[key] = {**settings, **summary}
        print(f"updated {update_sidecar(name, change)}")


def parse_args(argv=None):
    from gluon_sr.evaluation.records import add_measurement_arguments
    from gluon_sr.infer.gatys import STARTS

    p = ArgumentParser(description="Style networks on held-out photos: losses, blobs, Gatys "
                       "iterations (JSON)")
    p.add_argument("--models", nargs="*", default=None, help="default: every style model")
    p.add_argument("--photos", required=True, help="folder: its top-level images")
    p.add_argument("--size", type=int, default=384, help="photos' longer side for the losses")
    p.add_argument("--painting-size", type=int, default=None,
                   help="the painting's shorter side in px for the shared objective's style "
                   "loss; 0: the file as it is (pytorch/examples' default); default: the size "
                   "each network was trained with")
    p.add_argument("--gatys-size", type=int, default=256)
    p.add_argument("--gatys-iters", type=int, default=60, help="at most this many L-BFGS "
                   "iterations a photo (the run stops where it reaches the network); 0: no "
                   "Gatys comparison")
    p.add_argument("--gatys-start", choices=STARTS, default="photo",
                   help="where Gatys starts: the photo, or noise as in Johnson et al.'s baseline")
    p.add_argument("--style-dir", default=None, help="where the style images are "
                   "(default: the path recorded at training)")
    add_measurement_arguments(p, "style_heldout.json", "the summary in each model's sidecar")
    return p.parse_args(argv)


def main(argv=None):
    from gluon_sr.model_store import models_where
    from gluon_sr.utils.imageio import read_image

    args = parse_args(argv)
    if min(args.size, args.gatys_size) < 32 or args.gatys_iters < 0 \
            or (args.painting_size or 0) < 0:
        raise GluonSRError("--size and --gatys-size must be >= 32, --gatys-iters and "
                           "--painting-size >= 0")
    names = args.models if args.models is not None else models_where(
        lambda m: m.get("task") == "style")
    if not names:
        raise GluonSRError("no style models to measure")
    photos = {p: read_image(p).rgb for p in image_files(args.photos)}
    report = {"photos": [os.path.basename(p) for p in photos], "size": args.size,
              "painting_size": "as trained" if args.painting_size is None else args.painting_size,
              "gatys_size": args.gatys_size, "gatys_iters": args.gatys_iters,
              "gatys_start": args.gatys_start, "models": {}}
    for name in names:
        report["models"][name] = measure(name, photos, args)
    atomic_write_json(args.out, report)
    if args.write_metrics:
        record_summaries(report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    run_cli(main)
