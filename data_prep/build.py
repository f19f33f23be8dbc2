"""Build training shards: random HR crops -> Gaussian blur -> bicubic downsample [-> JPEG].

    python data_prep/build.py --src PHOTOS/ --out shards/ --scale 4
    python data_prep/build.py --src ../shared/data/anime --out shards/anime_x2_noise1 \
        --scale 2 --crop 96 --blur 0 --hr-scale 0.75 --jpeg 65-85 --exclude 'Anime_1[01]*'
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import gluon_sr  # noqa: E402,F401  (sets OpenMP threads before MXNet loads)
from gluon_sr.utils.errors import ArgumentParser, run_cli  # noqa: E402
from gluon_sr.utils.runtime import physical_core_count  # noqa: E402


def quality_band(text):
    low, sep, high = text.partition("-")
    try:
        band = [int(low), int(high if sep else low)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW-HIGH like 65-85, got {text!r}")
    return band


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src", nargs="+", required=True, help="folder(s) of HR images (recursive)")
    p.add_argument("--out", required=True, help="output folder for shards and manifest.json")
    p.add_argument("--scale", type=int, default=4, help="downsampling factor (2, 3, 4, 8)")
    p.add_argument("--crop", type=int, default=None,
                   help="HR crop side in pixels (default 144 for x2, 288 for x4)")
    p.add_argument("--crops-per-image", type=int, default=16)
    p.add_argument("--blur", type=float, default=1.0,
                   help="Gaussian blur sigma before downsampling (0 = none: the standard "
                        "bicubic benchmark degradation)")
    p.add_argument("--resize", choices=("matlab", "pil"), default="matlab",
                   help="bicubic implementation (matlab = the SR benchmark standard)")
    p.add_argument("--hr-scale", type=float, default=1.0,
                   help="shrink each source image by this factor before cropping (e.g. 0.75 "
                        "for JPEG sources, so their compression noise does not become target)")
    p.add_argument("--jpeg", type=quality_band, default=None, metavar="LOW-HIGH",
                   help="save each LR crop as a JPEG of a quality drawn from LOW-HIGH "
                        "(e.g. 65-85, waifu2x's noise level 1) and train on what comes back")
    p.add_argument("--shard-size", type=int, default=1000, help="samples per shard")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vgg-targets", metavar="LAYER", default=None,
                   help="also store the HR crops' VGG16 features at LAYER (e.g. relu2_2), "
                        "so training skips that VGG forward; large: C*H*W float16 per sample")
    p.add_argument("--vgg", default=None, help="VGG16 weights file (default $GLUON_SR_VGG16, "
                                               "else the model zoo)")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="leave out files whose path (relative to its --src) matches, e.g. "
                        "held-out validation images; repeatable")
    p.add_argument("--workers", type=int, default=physical_core_count())
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def main(argv=None):
    from gluon_sr.data.shards import Recipe, build_shards, default_crop

    args = parse_args(argv)
    recipe = Recipe(scale=args.scale, crop=args.crop or default_crop(args.scale),
                    crops_per_image=args.crops_per_image, blur_sigma=args.blur,
                    resize=args.resize, shard_size=args.shard_size, seed=args.seed,
                    vgg_layer=args.vgg_targets, hr_scale=args.hr_scale,
                    jpeg_quality=args.jpeg)
    manifest = build_shards(args.src, args.out, recipe, workers=max(1, args.workers),
                            vgg_weights=args.vgg, progress=not args.quiet,
                            exclude=args.exclude)
    print(f"{manifest['num_samples']} samples from {manifest['num_images']} images in "
          f"{len(manifest['shards'])} shard(s) at {args.out} "
          f"({len(manifest['skipped'])} file(s) skipped)")
    return 0


if __name__ == "__main__":
    run_cli(main)
