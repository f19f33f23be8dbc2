"""Train a super-resolution network (on build.py shards) or a style transfer network.

    python train.py --shards shards/ --scale 4 --name my_x4
    python train.py --task style --style-image mosaic.jpg --content photos/ --name mosaic
"""
import argparse
import shlex
import sys

import gluon_sr  # noqa: F401  (sets OpenMP threads before MXNet loads)
from gluon_sr.errors import run_cli
from gluon_sr.gatys import STYLE_WEIGHT


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", choices=("sr", "style"), default="sr")
    p.add_argument("--shards", default="", help="folder written by data_prep/build.py")
    p.add_argument("--name", required=True, help="model name: params/NAME.params + NAME.json")
    p.add_argument("--scale", type=int, default=0, help="check the shards are of this scale")
    g = p.add_argument_group("network")
    g.add_argument("--arch", default=None,
                   help="SR: srresnet_seed (default; seed 002), johnson_sr (Johnson et al. "
                        "Table 2) or edsr (no-norm fidelity net); style: transform_net")
    g.add_argument("--channels", type=int)
    g.add_argument("--blocks", type=int, dest="num_blocks")
    g.add_argument("--norm", choices=("batch", "instance", "none"))
    g.add_argument("--upsampler", choices=("deconv", "pixelshuffle", "subpixel", "resize"))
    g.add_argument("--output", choices=("linear", "tanh"))
    g.add_argument("--global-skip", choices=("none", "nearest"))
    g.add_argument("--res-scale", type=float)
    g.add_argument("--long-skip", action="store_true", default=None)
    g.add_argument("--head-kernel", type=int)
    g.add_argument("--tail-kernel", type=int)
    g = p.add_argument_group("loss")
    g.add_argument("--feat-weight", "--content-weight", type=float, default=1.0,
                   dest="feat_weight", help="VGG feature (content) loss weight")
    g.add_argument("--feat-layer", "--content-layer", nargs="+", default=["relu2_2"],
                   dest="feat_layers", help="VGG16 layer(s); SR sums their losses (e.g. "
                                            "relu2_2 relu3_3), style takes one")
    g.add_argument("--pixel-weight", type=float, default=0.0)
    g.add_argument("--pixel-loss", choices=("l1", "l2"), default="l2", dest="pixel_kind")
    g.add_argument("--tv-weight", type=float, default=0.0)
    g.add_argument("--tv-loss", choices=("l1", "l2"), default="l1", dest="tv_kind")
    g.add_argument("--vgg", default="", help="VGG16 weights file (default $GLUON_SR_VGG16, "
                                             "else the model zoo download)")
    g.add_argument("--no-shard-features", action="store_false", dest="use_shard_features",
                   help="ignore VGG targets stored in the shards")
    g = p.add_argument_group("style transfer (--task style)")
    g.add_argument("--style-image", default="")
    g.add_argument("--content", nargs="+", default=[], help="folder(s) of content photos")
    g.add_argument("--image-size", type=int, default=256, help="content crop side")
    g.add_argument("--style-size", type=int, default=0,
                   help="resize the style image's shorter side to this (0 = as it is)")
    g.add_argument("--style-weight", type=float, default=STYLE_WEIGHT,
                   help="against --content-weight (default 1)")
    g.add_argument("--style-layers", nargs="+", default=["relu1_2", "relu2_2", "relu3_3",
                                                         "relu4_3"])
    g = p.add_argument_group("optimisation")
    g.add_argument("--steps", type=int, default=2000)
    g.add_argument("--batch-size", type=int, default=8, help="global batch (all devices)")
    g.add_argument("--lr", type=float, default=1e-3)
    g.add_argument("--lr-mode", choices=("cosine", "step", "linear", "poly", "constant"),
                   default="cosine")
    g.add_argument("--lr-final", type=float, default=0.01, help="final lr / lr")
    g.add_argument("--warmup", type=int, default=0, help="linear warm-up steps")
    g.add_argument("--no-augment", action="store_false", dest="augment")
    g.add_argument("--seed", type=int, default=0)
    g = p.add_argument_group("devices")
    g.add_argument("--gpus", default="", help="e.g. 0,1 (default: CPU)")
    g.add_argument("--ctx", default="", help="cpu:N for N CPU contexts")
    g.add_argument("--kvstore", default="device",
                   help="device or local (this machine); dist_sync / dist_device_sync inside a "
                   "job started by python -m gluon_sr.launch")
    g = p.add_argument_group("bookkeeping")
    g.add_argument("--val-dir", default="", help="folder of HR images for validation PSNR")
    g.add_argument("--val-every", type=int, default=500)
    g.add_argument("--val-images", type=int, default=10)
    g.add_argument("--checkpoint-every", type=int, default=200)
    g.add_argument("--log-every", type=int, default=20)
    g.add_argument("--run-dir", default="", help="checkpoints, logs, curves (default runs/NAME)")
    g.add_argument("--out-dir", default=None, help="where NAME.params/json go (default params/)")
    g.add_argument("--resume", action="store_true", help="continue from the run's checkpoint")
    g.add_argument("--init", default="", metavar="MODEL",
                   help="start from a trained model's weights (name in params/ or NAME.json), "
                        "e.g. to fine-tune a shipped model on your own photos")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


MODEL_KEYS = ("channels", "num_blocks", "norm", "upsampler", "output", "global_skip", "res_scale",
              "long_skip", "head_kernel", "tail_kernel")


def main(argv=None):
    from gluon_sr.training import TrainConfig, train

    args = parse_args(argv)
    options = {k: v for k, v in vars(args).items() if k not in MODEL_KEYS and k != "quiet"}
    if options["out_dir"] is None:
        del options["out_dir"]
    model_config = {k: getattr(args, k) for k in MODEL_KEYS if getattr(args, k) is not None}
    if options["arch"] is None:
        options["arch"] = "transform_net" if args.task == "style" else "srresnet_seed"
    options["style_layers"] = tuple(options["style_layers"])
    options["feat_layers"] = tuple(options["feat_layers"])
    cfg = TrainConfig(model_config=model_config, progress=not args.quiet, **options)
    command = "python train.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    train(cfg, command=command)
    return 0


if __name__ == "__main__":
    run_cli(main)
