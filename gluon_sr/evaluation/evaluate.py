"""Standard SR evaluation: Y-channel PSNR/SSIM on benchmark sets, bicubic and shipped models.

Protocol of the SR literature (as in EDSR / BasicSR): HR mod-cropped to the scale, LR made with
MATLAB-compatible antialiased bicubic, bicubic baseline upscaled the same way, PSNR and SSIM on
the BT.601 Y channel with `scale` border pixels removed.

    python -m gluon_sr.evaluation.evaluate --scale 4 --sets Set5 Set14 BSD100
"""
import fnmatch
import json
import os
import time

import numpy as np

from gluon_sr.data.degrade import jpeg_roundtrip, mod_crop, shrink
from gluon_sr.infer.loader import BACKENDS, PRECISIONS
from gluon_sr.utils.errors import ArgumentParser, GluonSRError, run_cli
from gluon_sr.utils.fileio import atomic_write_json
from gluon_sr.utils.paths import SHARED_DIR
from gluon_sr.utils.imageio import list_images, read_image, to_uint8
from gluon_sr.utils.imresize import imresize
from gluon_sr.evaluation.figures import comparison_figure
from gluon_sr.evaluation.metrics import periodic_texture, score
from gluon_sr.evaluation.records import record_benchmarks, record_deployment
from gluon_sr.evaluation.report import print_table

# Published Y-channel PSNR / SSIM, quoted (not measured here). Bicubic, SRCNN and FSRCNN as
# tabulated in the LapSRN paper (Lai et al. 2017).
PUBLISHED = {
    4: {"bicubic": {"Set5": (28.42, 0.8104), "Set14": (26.00, 0.7027), "BSD100": (25.96, 0.6675)},
        "SRCNN": {"Set5": (30.48, 0.8628), "Set14": (27.49, 0.7503), "BSD100": (26.90, 0.7101)},
        "FSRCNN": {"Set5": (30.72, 0.8660), "Set14": (27.61, 0.7550), "BSD100": (26.98, 0.7150)}},
    2: {"bicubic": {"Set5": (33.66, 0.9299), "Set14": (30.24, 0.8688), "BSD100": (29.56, 0.8431)},
        "SRCNN": {"Set5": (36.66, 0.9542), "Set14": (32.45, 0.9067), "BSD100": (31.36, 0.8879)},
        "FSRCNN": {"Set5": (37.05, 0.9560), "Set14": (32.66, 0.9090), "BSD100": (31.53, 0.8920)}},
}
DEFAULT_BENCH = os.environ.get("GLUON_SR_BENCH", os.path.join(SHARED_DIR, "data", "sr_bench"))


def load_pairs(folder, scale, include="", hr_scale=1.0, jpeg=None):
    """(name, HR uint8, LR uint8) for every image of a folder, by the benchmark protocol.

    include: a glob on file names; hr_scale: shrink each image first (JPEG sources, as their
    training shards did); jpeg: save the LR as a JPEG of this quality (noisy-input tests)."""
    pairs = []
    for path in list_images([folder]):
        if include and not fnmatch.fnmatch(os.path.relpath(path, folder), include):
            continue
        hr = mod_crop(shrink(to_uint8(read_image(path).rgb), hr_scale), scale)
        lr = imresize(hr, 1 / scale)
        if jpeg:
            lr = jpeg_roundtrip(lr, jpeg)
        pairs.append((os.path.splitext(os.path.basename(path))[0], hr, lr))
    if not pairs:
        raise GluonSRError(f"{folder}: no images" + (f" matching {include}" if include else ""))
    return pairs


class FeatureDistance:
    """Johnson et al.'s l_feat to HR, ||phi(SR) - phi(HR)||^2 / (C H W), at each VGG16 tap.

    The perceptual models' target: lower than bicubic and than the pixel-loss models. Values
    depend on the VGG weights' input convention (recorded in the results).
    """

    def __init__(self, layers, weights=None):
        from gluon_sr.archs.vgg import load_loss_vgg

        self.layers = tuple(layers)
        self.vgg, self.source = load_loss_vgg(self.layers, weights=weights)
        self.vgg.hybridize()
        self._hr_cache = {}

    def _features(self, img):
        import mxnet as mx

        return self.vgg(mx.nd.array(img.transpose(2, 0, 1)[None].astype(np.float32) / 255.0))

    def __call__(self, name, sr, hr):
        from mxnet import nd

        from gluon_sr.losses import feature_loss

        if name not in self._hr_cache:      # every method is compared with the same HR
            self._hr_cache = {name: self._features(hr)}
        target, feats = self._hr_cache[name], self._features(sr)
        return {layer: float(feature_loss(nd, feats[layer], target[layer]).asscalar())
                for layer in self.layers}


def evaluate_method(upscale, pairs, scale, with_ssim=True, scorers=()):
    """Per-image scores of `upscale(lr_uint8) -> sr_uint8`, plus seconds per output MP.

    scorers: more measures, each `(name, sr, hr) -> {key: value}` (FeatureDistance, LPIPS).
    """
    per_image, seconds, megapixels = {}, 0.0, 0.0
    for name, hr, lr in pairs:
        start = time.perf_counter()
        sr = upscale(lr)
        seconds += time.perf_counter() - start
        megapixels += sr.shape[0] * sr.shape[1] / 1e6
        per_image[name] = score(sr, hr, scale, with_ssim)
        for scorer in scorers:
            per_image[name].update(scorer(name, sr, hr))
    first = per_image[pairs[0][0]]
    mean = {k: None if first[k] is None else float(np.mean([v[k] for v in per_image.values()]))
            for k in first}
    return {"mean": mean, "per_image": per_image, "s_per_mp": seconds / megapixels}


def uint8_upscaler(upscaler, jpeg_quality=None):
    """An Upscaler as a function of LR uint8 -> SR uint8 (LR images that came from JPEGs of
    `jpeg_quality`, as the --denoise pick sees them)."""
    from gluon_sr.utils.imageio import LoadedImage

    def upscale(lr):
        image = LoadedImage(lr.astype(np.float32) / 255.0, alpha=None, bit_depth=8, gray=False,
                            jpeg_quality=jpeg_quality)
        return to_uint8(upscaler(image)[0])
    return upscale


def parse_args(argv=None):
    p = ArgumentParser(description="Y-PSNR / SSIM of bicubic and models on SR benchmarks")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--bench", default=DEFAULT_BENCH, help="folder holding one folder per set")
    p.add_argument("--sets", nargs="+", default=["Set5", "Set14", "BSD100"])
    p.add_argument("--models", nargs="*", default=None,
                   help="model names/paths (default: every shipped model of this scale)")
    p.add_argument("--no-ssim", action="store_true", help="PSNR only (SSIM is slow on BSD100)")
    p.add_argument("--include", default="", metavar="GLOB",
                   help="only the files of each set whose name matches (held-out images)")
    p.add_argument("--hr-scale", type=float, default=1.0,
                   help="shrink each HR image by this first (as build.py --hr-scale)")
    p.add_argument("--jpeg", type=int, default=None, metavar="QUALITY",
                   help="save each LR image as a JPEG of this quality first")
    p.add_argument("--lpips", action="store_true", help="add LPIPS (AlexNet v0.1; lower is closer)")
    p.add_argument("--lpips-weights", default="", help="lpips_alexnet_v0.1.npz (default "
                   "$GLUON_SR_LPIPS)")
    p.add_argument("--interp", type=float, nargs="+", default=[], metavar="ALPHA",
                   help="also rows NAME@ALPHA for models with a parent: the weights blended "
                        "as infer.py --interp ALPHA does")
    p.add_argument("--niqe", action="store_true",
                   help="add NIQE (no reference; lower is more natural), with HR's own as a row")
    p.add_argument("--niqe-params", default="", help="niqe_pris_params.npz (default "
                   "$GLUON_SR_NIQE)")
    p.add_argument("--denoise", action="store_true",
                   help="also run each model with --denoise auto (rows NAME+denoise)")
    p.add_argument("--out", default="eval.json", help="JSON with per-image numbers")
    p.add_argument("--figures", default=None, metavar="DIR",
                   help="write a zoomed comparison figure per set (PNG) into DIR")
    p.add_argument("--figure-image", nargs="*", default=["butterfly", "zebra", "86000"],
                   help="image (file stem) to show per set; the first one found in a set")
    p.add_argument("--figure-flat", action="store_true",
                   help="add a row with the flattest crop (fills: noise, ringing, dots)")
    p.add_argument("--features", nargs="*", default=["relu2_2", "relu3_3"], metavar="LAYER",
                   help="VGG16 taps for the feature distance to HR (none: skip it)")
    p.add_argument("--vgg", default="", help="VGG16 weights (default $GLUON_SR_VGG16, else the "
                   "model zoo download)")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="run the models in this precision (gluon_sr.deploy.precision)")
    p.add_argument("--backend", choices=BACKENDS, default="mxnet",
                   help="onnxruntime: the exported models (exports/NAME.onnx)")
    p.add_argument("--self-ensemble", action="store_true",
                   help="also score each model with the x8 self-ensemble (rows NAME+)")
    p.add_argument("--write-metrics", action="store_true",
                   help="record the mean scores in each evaluated model's JSON sidecar")
    return p.parse_args(argv)


def main(argv=None):
    from gluon_sr.infer.loader import load_for_inference
    from gluon_sr.infer.upscale import Upscaler
    from gluon_sr.model_store import models_where, resolve

    args = parse_args(argv)
    reference = (args.precision, args.backend) == ("fp32", "mxnet")
    if args.write_metrics and "auto" in (args.precision, args.backend):
        raise GluonSRError("--write-metrics records one backend and precision; name them")
    names = args.models
    if names is None:
        names = models_where(lambda m: m.get("task", "sr") == "sr"
                             and m["config"]["scale"] == args.scale)
    upscalers, sidecars = {}, {}
    for name in names:
        # Each model is measured as infer.py runs it by default (perceptual: histogram match).
        model = load_for_inference(name, args.backend, args.precision)
        if model.task != "sr" or model.scale != args.scale:
            raise GluonSRError(f"model {name} is not an x{args.scale} SR model")
        row = name if reference else f"{name} ({args.backend} {args.precision})"
        sidecars[name] = (resolve(name)[0], row)
        upscalers[row] = uint8_upscaler(Upscaler(None, model=model))
        if args.self_ensemble:
            upscalers[row + "+"] = uint8_upscaler(Upscaler(None, model=model, self_ensemble=True))
        for alpha in args.interp if model.meta.get("parent") else ():
            blended = load_for_inference(name, args.backend, args.precision, interp=alpha)
            upscalers[f"{row}@{alpha:g}"] = uint8_upscaler(Upscaler(None, model=blended))
        if args.denoise:
            from gluon_sr.infer.denoise import DenoisingUpscaler

            upscalers[row + "+denoise"] = uint8_upscaler(
                DenoisingUpscaler(name, "auto", backend=args.backend, precision=args.precision),
                args.jpeg)
    features = None
    if args.features:
        try:
            features = FeatureDistance(args.features, args.vgg or None)
        except GluonSRError as e:
            raise GluonSRError(f"{e}; or pass --features with no layer to skip the VGG "
                               "feature distance")
    protocol = "Y (BT.601) PSNR/SSIM, border=scale, MATLAB bicubic LR"
    if args.hr_scale != 1:
        protocol += f"; HR shrunk by {args.hr_scale} first"
    if args.jpeg:
        protocol += f"; LR saved as JPEG quality {args.jpeg}"
    if args.include:
        protocol += f"; files matching {args.include}"
    results = {"scale": args.scale, "protocol": protocol, "sets": {},
               "published": PUBLISHED.get(args.scale, {}) if protocol.endswith("LR") else {},
               "feature_distance": ({"layers": list(features.layers), "vgg": features.source,
                                     "definition": "mean squared VGG16 activation difference "
                                     "to HR (l_feat of Johnson et al.)"} if features else None)}
    scorers = [features] if features else []
    if args.lpips:
        from gluon_sr.evaluation.lpips import LPIPS

        lpips = LPIPS(args.lpips_weights or None)
        scorers.append(lambda name, sr, hr: {"lpips": lpips(sr, hr)})
    niqe = None
    if args.niqe:
        from gluon_sr.evaluation.niqe import NIQE

        niqe = NIQE(args.niqe_params or None)
        scorers.append(lambda name, sr, hr: {"niqe": niqe(sr, crop=args.scale)})
    for set_name in args.sets:
        folder = os.path.join(args.bench, set_name)
        if not os.path.isdir(folder):
            raise GluonSRError(f"{folder}: benchmark set not found (use --bench)")
        pairs = load_pairs(folder, args.scale, args.include, args.hr_scale, args.jpeg)
        rows = {"bicubic": evaluate_method(lambda lr: imresize(lr, args.scale), pairs, args.scale,
                                           not args.no_ssim, scorers)}
        for name, upscale in upscalers.items():
            rows[name] = evaluate_method(upscale, pairs, args.scale, not args.no_ssim, scorers)
        rows["HR"] = {"mean": {"grid": float(np.mean([
            periodic_texture(hr.astype(np.float64) / 255.0, args.scale) for _, hr, _ in pairs]))}}
        if niqe:
            rows["HR"]["mean"]["niqe"] = float(np.mean([niqe(hr, crop=args.scale)
                                                        for _, hr, _ in pairs]))
        results["sets"][set_name] = rows
        if args.figures:
            os.makedirs(args.figures, exist_ok=True)
            chosen = next((p for p in pairs if p[0] in args.figure_image), pairs[0])
            name, hr, lr = chosen
            outputs = {"bicubic": imresize(lr, args.scale)}
            outputs.update({m: upscale(lr) for m, upscale in upscalers.items()})
            figure = os.path.join(args.figures, f"compare_{set_name}_{name}_x{args.scale}.png")
            comparison_figure(figure, f"{set_name} / {name}, x{args.scale}", hr, lr, outputs,
                              args.scale, flat=args.figure_flat)
            print(f"wrote {figure}")
    print_table(results)
    atomic_write_json(args.out, results)
    print(f"wrote {args.out}")
    if args.write_metrics:
        for name, (path, row) in sidecars.items():
            with open(path) as f:
                meta = json.load(f)
            if reference:
                record_benchmarks(meta, results, row)
            else:
                record_deployment(meta, results, row, f"{args.backend}_{args.precision}", path)
            atomic_write_json(path, meta)
            print(f"updated {path}")
    return 0


if __name__ == "__main__":
    import gluon_sr  # noqa: F401

    run_cli(main)
