"""The AdaIN decoder on held-out photos x held-out paintings: how stylised, against Gatys, how fast.

    python -m gluon_sr.evaluation.adain_bench --photos ../shared/data/content \\
        --paintings ../shared/data/style --out docs/adain_bench.json

For every photo (top level of --photos, at --size px on the longer side) and painting (shorter
side 256, as infer.py takes it): the project's Gatys objective (losses.py: content at relu2_2,
Gram style loss at relu1_2..relu4_3, default weights) of the AdaIN output and of the unstyled
photo, the bright blobs the output adds (evaluation/blobs.py) and the output's periodic
texture at the decoder's 8 px period (metrics.periodic_texture; photos score about 2, a
visible grid 10 and more), beside the photo's. Then, on the first
--gatys-pairs pairs at --gatys-size px: the L-BFGS iteration at which Gatys, started from the
photo, first reaches the AdaIN output's style loss. With --alpha below 1 the outputs are
those of `infer.py --alpha`: a point on the decoder's content / style curve, to compare two
decoders at the same content loss (docs/adain.md). Then per photo, the PSNR of the decoder's
`--alpha 0` redrawing of it (alpha0_psnr_mean in the summary). The losses are MXNet fp32's;
the time at 512 x 512 is that of infer.py's default path (--backend auto: OpenVINO where it
is installed and faster here) and of MXNet fp32.
"""
import json
import os
import time

import numpy as np

from gluon_sr.utils.errors import ArgumentParser, GluonSRError, run_cli
from gluon_sr.utils.fileio import atomic_write_json


def image_files(folder):
    """The images at the top level of `folder`, sorted."""
    from gluon_sr.utils.imageio import IMAGE_SUFFIXES

    if not os.path.isdir(folder):
        raise GluonSRError(f"{folder}: not a folder")
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder)
                   if f.lower().endswith(IMAGE_SUFFIXES))
    if not files:
        raise GluonSRError(f"{folder}: no images at its top level")
    return files


def content_and_style_loss(objective, rgb):
    """(content, style) weighted losses of an HxWx3 image under a StyleObjective."""
    import mxnet as mx

    x = mx.nd.array(rgb.transpose(2, 0, 1)[None].astype(np.float32), ctx=objective.ctx)
    content, style, _ = objective.parts(x)
    return float(content.asscalar()), float(style.asscalar())


def stylisation(transfer, vgg, photos, paintings, size, alpha=1.0):
    """One row per (photo, painting): content and style losses of output (at `alpha`) and
    photo, blobs, the 8 px periodic texture of output and photo."""
    from gluon_sr.archs.adain import GRID_PERIOD
    from gluon_sr.evaluation.blobs import find_blobs
    from gluon_sr.evaluation.metrics import periodic_texture
    from gluon_sr.infer.adain import read_painting
    from gluon_sr.infer.gatys import StyleObjective
    from gluon_sr.infer.stylize import working_copy
    from gluon_sr.utils.imageio import read_image
    from tqdm import tqdm

    rows = []
    images = {p: working_copy(read_image(p).rgb, size) for p in photos}
    photo_grid = {p: periodic_texture(image, GRID_PERIOD) for p, image in images.items()}
    art = {p: read_painting(p) for p in paintings}
    with tqdm(total=len(photos) * len(paintings), desc="stylisation") as bar:
        for photo_path, photo in images.items():
            for painting_path, painting in art.items():
                out = transfer(photo, [painting], alpha=alpha)
                objective = StyleObjective(vgg, photo, painting)
                content, style = content_and_style_loss(objective, out)
                _, photo_style = content_and_style_loss(objective, photo)
                rows.append({"photo": os.path.basename(photo_path),
                             "painting": os.path.basename(painting_path),
                             "content_loss": content, "style_loss": style,
                             "photo_style_loss": photo_style,
                             "blobs": len(find_blobs(photo, out)),
                             "grid_8px": periodic_texture(out, GRID_PERIOD),
                             "photo_grid_8px": photo_grid[photo_path]})
                bar.update()
    return rows


def reconstruction(transfer, photos, size):
    """Per photo: PSNR (dB, RGB) against the photo of the `--alpha 0` output, the photo as the
    decoder redraws it from its own relu4_1 features: how much of a picture the decoder can
    keep at all, which the stylisation losses do not show. (At alpha 0 the painting's
    statistics are not used, so the photo stands in for it.)"""
    from gluon_sr.evaluation.metrics import output_psnr
    from gluon_sr.infer.stylize import working_copy
    from gluon_sr.utils.imageio import read_image

    rows = []
    for path in photos:
        photo = working_copy(read_image(path).rgb, size)
        rows.append({"photo": os.path.basename(path),
                     "psnr": output_psnr(photo, transfer(photo, [photo], alpha=0.0))})
    return rows


def gatys_iterations(transfer, vgg, pairs, size, iters, alpha=1.0):
    """For each (photo, painting): the first L-BFGS iteration whose style loss is at most the
    AdaIN output's at `alpha` (None if not within `iters`)."""
    from gluon_sr.infer.adain import read_painting
    from gluon_sr.infer.gatys import StyleObjective, optimise
    from gluon_sr.infer.stylize import working_copy
    from gluon_sr.utils.imageio import read_image

    rows = []
    for photo_path, painting_path in pairs:
        photo = working_copy(read_image(photo_path).rgb, size)
        painting = read_painting(painting_path)
        objective = StyleObjective(vgg, photo, painting)
        _, adain_style = content_and_style_loss(
            objective, transfer(photo, [painting], alpha=alpha))
        _, history = optimise(objective, photo, iters=iters, log=None,
                              until=lambda h, goal=adain_style: h["style"] <= goal)
        reached = history[-1]["iter"] if history and history[-1]["style"] <= adain_style \
            else None
        rows.append({"photo": os.path.basename(photo_path),
                     "painting": os.path.basename(painting_path), "adain_style_loss": adain_style,
                     "gatys_iters_run": len(history), "gatys_iters_to_adain_style": reached})
        print(f"{rows[-1]['photo']} x {rows[-1]['painting']}: Gatys reaches AdaIN's style loss "
              f"at iteration {reached if reached else f'> {len(history)}'}")
    return rows


def speed(transfer, painting_path, side=512, repeat=5):
    """Median seconds for one side x side photo through `transfer`: `seconds` with the painting
    encoded too (a one-photo infer.py run), `seconds_same_painting` for each further photo
    with that painting (its statistics remembered)."""
    from gluon_sr.infer.adain import read_painting

    photo = np.random.default_rng(0).uniform(0, 1, (side, side, 3)).astype(np.float32)
    painting = read_painting(painting_path)
    transfer(photo, [painting])                              # warm-up at this shape

    def median_seconds(new_painting):
        times = []
        for _ in range(repeat):
            if new_painting:
                transfer.style_cache.clear()
            start = time.perf_counter()
            transfer(photo, [painting])
            times.append(time.perf_counter() - start)
        return float(np.median(times))

    seconds, again = median_seconds(True), median_seconds(False)
    return {"side": side, "seconds": seconds, "ms_per_mp": 1000 * seconds / (side * side / 1e6),
            "seconds_same_painting": again, "path": transfer.note}


def summary(rows, gatys_rows, reconstruction_rows):
    style = np.array([r["style_loss"] for r in rows])
    photo_style = np.array([r["photo_style_loss"] for r in rows])
    reached = [r["gatys_iters_to_adain_style"] for r in gatys_rows]
    return {
        "pairs": len(rows),
        "mean_style_loss": float(style.mean()), "mean_photo_style_loss": float(photo_style.mean()),
        "style_ratio_of_means": float(style.mean() / photo_style.mean()),
        "median_pair_style_ratio": float(np.median(style / photo_style)),
        "mean_content_loss": float(np.mean([r["content_loss"] for r in rows])),
        "outputs_with_blobs": int(sum(r["blobs"] > 0 for r in rows)),
        "mean_grid_8px": float(np.mean([r["grid_8px"] for r in rows])),
        "mean_photo_grid_8px": float(np.mean([r["photo_grid_8px"] for r in rows])),
        "alpha0_psnr_mean": float(np.mean([r["psnr"] for r in reconstruction_rows])),
        "gatys_median_iters_to_adain_style": (
            float(np.median([r if r else np.inf for r in reached])) if reached else None),
    }


def parse_args(argv=None):
    from gluon_sr.evaluation.records import add_measurement_arguments

    p = ArgumentParser(description="AdaIN on held-out photos x paintings: stylisation, Gatys "
                       "iterations, speed (JSON)")
    p.add_argument("--model", default="adain")
    p.add_argument("--photos", required=True, help="folder: its top-level images")
    p.add_argument("--paintings", required=True, help="folder of held-out paintings")
    p.add_argument("--size", type=int, default=512, help="photos' longer side")
    p.add_argument("--gatys-pairs", type=int, default=6)
    p.add_argument("--gatys-size", type=int, default=256)
    p.add_argument("--gatys-iters", type=int, default=100)
    p.add_argument("--speed-side", type=int, default=512, help="side of the timed photo")
    p.add_argument("--alpha", type=float, default=1.0,
                   help="stylise with this alpha (as infer.py --alpha; 1 = full style)")
    add_measurement_arguments(p, "adain_bench.json", "the summary and speed in the model's "
                              "sidecar")
    return p.parse_args(argv)


def main(argv=None):
    from gluon_sr.archs.vgg import load_loss_vgg
    from gluon_sr.infer.loader import load_adain
    from gluon_sr.evaluation.records import update_sidecar
    from gluon_sr.losses import CONTENT_LAYER, STYLE_LAYERS

    args = parse_args(argv)
    if not 0.0 <= args.alpha <= 1.0:
        raise GluonSRError(f"--alpha must be within 0..1, got {args.alpha}")
    if args.write_metrics and args.alpha != 1.0:
        raise GluonSRError("--write-metrics records the model at --alpha 1 only")
    photos, paintings = image_files(args.photos), image_files(args.paintings)
    transfer, meta = load_adain(args.model, args.vgg or None)
    default, _ = load_adain(args.model, args.vgg or None, backend="auto", precision="auto")
    vgg, _ = load_loss_vgg((*STYLE_LAYERS, CONTENT_LAYER), weights=args.vgg or None)
    vgg.hybridize()
    rows = stylisation(transfer, vgg, photos, paintings, args.size, args.alpha)
    # Gatys on distinct photos and paintings: photo i with painting (i * 7) mod n.
    pairs = [(photos[i % len(photos)], paintings[(i * 7) % len(paintings)])
             for i in range(args.gatys_pairs)]
    gatys_rows = gatys_iterations(transfer, vgg, pairs, args.gatys_size, args.gatys_iters,
                                  args.alpha)
    reconstruction_rows = reconstruction(transfer, photos, args.size)
    report = {"model": args.model, "params_sha256": meta.get("params_sha256"),
              "photos": [os.path.basename(p) for p in photos],
              "paintings": [os.path.basename(p) for p in paintings], "size": args.size,
              "alpha": args.alpha,
              "summary": summary(rows, gatys_rows, reconstruction_rows),
              "speed": speed(default, paintings[0], args.speed_side),
              "speed_mxnet_fp32": speed(transfer, paintings[0], args.speed_side),
              "pairs": rows, "gatys": gatys_rows, "reconstruction": reconstruction_rows}
    atomic_write_json(args.out, report)
    if args.write_metrics:
        held_out = {"photos": len(photos), "paintings": len(paintings), "size": args.size,
                    **report["summary"],
                    **{k: report[k] for k in ("speed", "speed_mxnet_fp32")}}

        def record(meta):
            meta.setdefault("metrics", {})["held_out"] = held_out
        sidecar = update_sidecar(args.model, record)
        print(f"updated {sidecar}")
    print(json.dumps({k: report[k] for k in ("summary", "speed", "speed_mxnet_fp32")},
                     indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    run_cli(main)
