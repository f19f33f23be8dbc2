"""Feed-forward style networks against Gatys et al.'s optimisation, on this machine.

    python -m gluon_sr.evaluation.style_bench --content photo.jpg --out docs/style_bench.json

For each style model and size (longer side 256, 512, 1024 px): the network's time, the time of
Gatys' L-BFGS (300 iterations; at sizes where that would take too long, --measured-iters are
run and the time per iteration is extrapolated, marked as such), and the network output's loss
under the same objective the network was trained with, placed on Gatys' loss curve: how many
L-BFGS iterations it takes to reach the same loss.
"""
import os
import time

import numpy as np

from gluon_sr.utils.errors import ArgumentParser, GluonSRError, run_cli
from gluon_sr.utils.fileio import atomic_write_json


def style_image_for(meta, style_dir):
    name = meta["style"]["image"]
    path = os.path.join(style_dir, name) if style_dir else meta["training"].get("style_image", "")
    if not os.path.isfile(path):
        raise GluonSRError(f"style image {name} not found (use --style-dir)")
    return path


def painting_for(meta, style_path, shorter=None):
    """The painting at `shorter` px on its shorter side (0: the file as it is); by default at
    the size the network was trained with."""
    from gluon_sr.data.content import read_painting

    return read_painting(style_path,
                         meta["style"].get("style_size") if shorter is None else shorter)


def objective_for(meta, vgg, content, style_path, ctx=None):
    """Gatys' objective with the weights, layers and style size the network was trained with."""
    from gluon_sr.infer.gatys import StyleObjective

    t = meta["training"]
    style = painting_for(meta, style_path)
    return StyleObjective(vgg, content, style, content_layer=meta["style"]["content_layer"],
                          style_layers=tuple(meta["style"]["style_layers"]),
                          content_weight=t["feat_weight"], style_weight=t["style_weight"],
                          tv_weight=t["tv_weight"], tv_kind=t.get("tv_kind", "l1"), ctx=ctx)


def loss_of(objective, rgb):
    import mxnet as mx

    x = mx.nd.array(rgb.transpose(2, 0, 1)[None].astype(np.float32))
    return float(sum(p for p in objective.parts(x)).asscalar())


def bench_one(name, content_rgb, sizes, full_iters, measured_iters, max_full_side, style_dir,
              vgg_weights, repeat=3):
    from gluon_sr.archs.vgg import load_loss_vgg
    from gluon_sr.infer.gatys import optimise
    from gluon_sr.infer.loader import load_for_inference
    from gluon_sr.infer.stylize import run_transform, working_copy

    model = load_for_inference(name)
    if model.task != "style":
        raise GluonSRError(f"{name} is not a style model")
    meta = model.meta
    vgg, _ = load_loss_vgg((*meta["style"]["style_layers"], meta["style"]["content_layer"]),
                           weights=vgg_weights)
    vgg.hybridize()
    style_path = style_image_for(meta, style_dir)
    rows = []
    for size in sizes:
        content = working_copy(content_rgb, size)
        run_transform(model, content, tile=0)                    # warm-up at this shape
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            stylised = run_transform(model, content, tile=0)
            times.append(time.perf_counter() - start)
        network_s = float(np.median(times))
        objective = objective_for(meta, vgg, content, style_path)
        network_loss = loss_of(objective, stylised)
        iters = full_iters if max(content.shape[:2]) <= max_full_side else measured_iters
        _, history = optimise(objective, content, iters=iters, log=None)
        per_iter = history[-1]["seconds"] / len(history)
        reached = next((h["iter"] for h in history if h["loss"] <= network_loss), None)
        gatys_s = per_iter * full_iters
        rows.append({
            "size": list(content.shape[:2]), "network_s": network_s,
            "gatys_iters_run": len(history), "gatys_s_per_iter": per_iter,
            f"gatys_{full_iters}_s": gatys_s, "gatys_time_extrapolated": len(history) < full_iters,
            "speedup": gatys_s / network_s, "network_loss": network_loss,
            "gatys_loss_first": history[0]["loss"], "gatys_loss_last": history[-1]["loss"],
            "gatys_iters_to_network_loss": reached,
            "gatys_loss_curve": [round(h["loss"], 6) for h in history]})
        print(f"{name} {content.shape[1]}x{content.shape[0]}: network {network_s * 1000:.0f} ms, "
              f"Gatys {full_iters} iters {gatys_s:.0f} s"
              f"{' (extrapolated)' if len(history) < full_iters else ''} -> "
              f"{gatys_s / network_s:.0f}x; network loss {network_loss:.4g} reached by Gatys at "
              f"iteration {reached if reached else f'> {len(history)}'}")
    return rows


def parse_args(argv=None):
    p = ArgumentParser(description="Feed-forward style networks vs Gatys optimisation")
    p.add_argument("--models", nargs="*", default=None, help="default: every style model")
    p.add_argument("--content", required=True, help="content photo")
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    p.add_argument("--iters", type=int, default=300, help="L-BFGS iterations to time")
    p.add_argument("--max-full-side", type=int, default=256,
                   help="run all --iters only up to this size; above, extrapolate")
    p.add_argument("--measured-iters", type=int, default=10)
    p.add_argument("--style-dir", default=None, help="where the style images are "
                   "(default: the path recorded at training)")
    p.add_argument("--vgg", default="", help="VGG16 weights (default $GLUON_SR_VGG16)")
    p.add_argument("--out", default="style_bench.json")
    return p.parse_args(argv)


def main(argv=None):
    from gluon_sr.utils.imageio import read_image
    from gluon_sr.model_store import models_where

    args = parse_args(argv)
    names = args.models
    if names is None:
        names = models_where(lambda m: m.get("task") == "style")
    if not names:
        raise GluonSRError("no style models to measure")
    content = read_image(args.content).rgb
    report = {"content": os.path.basename(args.content), "iters": args.iters, "models": {}}
    for name in names:
        report["models"][name] = bench_one(name, content, args.sizes, args.iters,
                                           args.measured_iters, args.max_full_side,
                                           args.style_dir, args.vgg or None)
    atomic_write_json(args.out, report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    run_cli(main)
