"""Train a super-resolution network (on build.py shards) or a style transfer network.

    python train.py --config configs/sr_x4.json            # a shipped model's recipe
    python train.py --config configs/sr_x4.json --steps 20 --name try
    python train.py --shards shards/ --name my_x4           # the recommended SR recipe
    python train.py --task style --style-image mosaic.jpg --content photos/ --name mosaic

Settings come from the task's recommended recipe, then the --config file, then the flags.
"""
import argparse
import os
import shlex
import sys

import gluon_sr  # noqa: F401  (sets OpenMP threads before MXNet loads)
from gluon_sr.utils.errors import ArgumentParser, GluonSRError, run_cli

MODEL_KEYS = ("channels", "num_blocks", "norm", "upsampler", "output", "global_skip", "res_scale",
              "long_skip", "head_kernel", "tail_kernel", "norm_stages", "width")


def build_parser():
    p = ArgumentParser(description=__doc__.splitlines()[0], argument_default=argparse.SUPPRESS)
    p.add_argument("--config", default=None, help="recipe file (JSON; see configs/)")
    p.add_argument("--stage", type=int, default=None,
                   help="run only this stage (1-based) of a multi-stage recipe")
    p.add_argument("--task", choices=("sr", "style", "gan", "adain"))
    p.add_argument("--name", help="model name: OUT_DIR/NAME.params + NAME.json")
    p.add_argument("--shards", help="folder written by data_prep/build.py")
    g = p.add_argument_group("network")
    g.add_argument("--arch", help="SR: edsr (recipe), srresnet_seed (seed 002) or johnson_sr "
                                  "(Johnson et al. Table 2); style: transform_net")
    g.add_argument("--channels", type=int)
    g.add_argument("--blocks", type=int, dest="num_blocks")
    g.add_argument("--norm", choices=("batch", "instance", "none"))
    g.add_argument("--upsampler", choices=("deconv", "pixelshuffle", "subpixel", "resize"))
    g.add_argument("--output", choices=("linear", "tanh"))
    g.add_argument("--width", type=float,
                   help="AdaIN decoder: fraction of the full decoder's channels")
    g.add_argument("--norm-stages", nargs="*", choices=("encoder", "body", "upsampler"),
                   help="style: the stages with instance norm (recipe: encoder; Johnson et al.: "
                        "all three)")
    g.add_argument("--global-skip", choices=("none", "nearest"))
    g.add_argument("--res-scale", type=float)
    g.add_argument("--long-skip", action="store_true")
    g.add_argument("--head-kernel", type=int)
    g.add_argument("--tail-kernel", type=int)
    g = p.add_argument_group("loss")
    g.add_argument("--feat-weight", "--content-weight", type=float, dest="feat_weight",
                   help="VGG feature (content) loss weight")
    g.add_argument("--feat-layer", nargs="+", dest="feat_layers",
                   help="SR: VGG16 layer(s) whose losses are summed (e.g. relu2_2 relu3_3)")
    g.add_argument("--pixel-weight", type=float)
    g.add_argument("--pixel-loss", choices=("l1", "l2"), dest="pixel_kind")
    g.add_argument("--tv-weight", type=float)
    g.add_argument("--tv-loss", choices=("l1", "l2"), dest="tv_kind")
    g.add_argument("--grid-weight", type=float,
                   help="penalise a periodic grid: SR at the scale's period against the HR "
                   "image (losses.periodic_loss), AdaIN at 8 px against none")
    g.add_argument("--vgg", help="VGG16 weights file (default $GLUON_SR_VGG16)")
    g.add_argument("--no-shard-features", action="store_false", dest="use_shard_features",
                   help="ignore VGG targets stored in the shards")
    g.add_argument("--scale", type=int, help="SR: check the shards are of this scale")
    g = p.add_argument_group("style transfer (--task style)")
    g.add_argument("--style-image")
    g.add_argument("--content", nargs="+", help="folder(s) of content photos")
    g.add_argument("--content-layer", help="VGG16 layer of the content loss")
    g.add_argument("--image-size", type=int, help="content crop side")
    g.add_argument("--load-size", type=int, help="photos' shorter side before the random crop "
                   "(style: default --image-size, whole photos)")
    g.add_argument("--style-size", type=int,
                   help="resize the style image's shorter side to this (0 = as it is)")
    g.add_argument("--style-weight", type=float,
                   help="against --content-weight (default: the balance rule, "
                        "docs/style_transfer.md)")
    g.add_argument("--style-balance", type=float,
                   help="the rule's ratio of the painting's style loss on plain photos to "
                        "their content energy (default 3; 9.6 for a painting at 512 px)")
    g.add_argument("--style-layers", nargs="+")
    g = p.add_argument_group("arbitrary style, AdaIN (--task adain; also --content, "
                             "--image-size, --load-size, --style-weight)")
    g.add_argument("--styles", help="folder of training paintings")
    g.add_argument("--val-style-dir", help="held-out paintings for validation previews")
    g.add_argument("--identity-weight", type=float,
                   help="the photo's own features decoded, against the photo (SANet; 0 = off)")
    g.add_argument("--gram-weight", type=float,
                   help="Gram distance at the benches' style layers, relative to the "
                        "painting's Gram energy (0 = off)")
    g.add_argument("--teacher", help="a trained AdaIN decoder to distil (with --init of it "
                   "into a narrower --width, its strongest channels)")
    g.add_argument("--teacher-weight", type=float,
                   help="mean absolute difference to the teacher's output (0 = off)")
    g = p.add_argument_group("adversarial fine-tuning (--task gan; with --init MODEL)")
    g.add_argument("--disc", choices=("patchgan", "multiscale_patchgan"))
    g.add_argument("--gan-loss", choices=("vanilla", "lsgan", "hinge", "ragan"), dest="gan_kind")
    g.add_argument("--gan-weight", type=float)
    g.add_argument("--fm-weight", type=float, help="pix2pixHD feature matching")
    g.add_argument("--d-lr", type=float, help="discriminator learning rate")
    g.add_argument("--d-warmup", type=int, help="first steps train the discriminator only")
    g.add_argument("--ema-decay", type=float, help="EMA of the generator (0 = off)")
    g.add_argument("--patch", type=int, help="HR patch cropped from each shard sample")
    g = p.add_argument_group("optimisation")
    g.add_argument("--steps", type=int)
    g.add_argument("--batch-size", type=int, help="global batch (all devices)")
    g.add_argument("--lr", type=float)
    g.add_argument("--lr-mode", choices=("cosine", "step", "linear", "poly", "constant"))
    g.add_argument("--lr-final", type=float, help="final lr / lr")
    g.add_argument("--warmup", type=int, help="linear warm-up steps")
    g.add_argument("--no-augment", action="store_false", dest="augment")
    g.add_argument("--seed", type=int)
    g = p.add_argument_group("devices")
    g.add_argument("--gpus", help="e.g. 0,1 (default: CPU)")
    g.add_argument("--ctx", help="cpu:N for N CPU contexts")
    g.add_argument("--kvstore", help="device (default) or local (this machine); dist_sync / "
                   "dist_device_sync inside a job started by python -m gluon_sr.train.launch")
    g = p.add_argument_group("bookkeeping")
    g.add_argument("--val-dir", help="folder of held-out images for validation")
    g.add_argument("--val-every", type=int)
    g.add_argument("--val-images", type=int)
    g.add_argument("--val-include", metavar="GLOB",
                   help="SR: only the files of --val-dir whose name matches")
    g.add_argument("--checkpoint-every", type=int)
    g.add_argument("--log-every", type=int)
    g.add_argument("--run-dir", help="checkpoints, logs, curves (default runs/NAME)")
    g.add_argument("--out-dir", help="where NAME.params/json go (default trained/)")
    g.add_argument("--resume", action="store_true", help="continue from the run's checkpoint")
    g.add_argument("--init", metavar="MODEL",
                   help="start from a trained model's weights (name or NAME.json), e.g. to "
                        "fine-tune a shipped model on your own photos")
    g.add_argument("--quiet", action="store_false", dest="progress", help="no progress bar")
    return p


def flag_settings(parser, argv):
    """The settings given on the command line, keyed like the recipe files."""
    given = vars(parser.parse_args(argv))
    given.pop("config", None), given.pop("stage", None)
    model_config = {k: given.pop(k) for k in MODEL_KEYS if k in given}
    if model_config:
        given["model_config"] = model_config
    return given


def stages_to_run(args_config, stage, flags):
    """[(settings, where they came from)] for each stage to run, flags applied to each."""
    from gluon_sr.train.config import read_recipe

    stages = read_recipe(args_config) if args_config else [{}]
    if stage is not None and not 1 <= stage <= len(stages):
        raise GluonSRError(f"--stage {stage}: {args_config} has {len(stages)} stage(s)")
    runs = []
    for number, settings in enumerate(stages, start=1):
        if stage is not None and number != stage:
            continue
        merged = {**settings, **flags}
        if "model_config" in settings and "model_config" in flags:
            merged["model_config"] = {**settings["model_config"], **flags["model_config"]}
        if len(stages) > 1 and "run_dir" not in merged and "name" in merged:
            merged["run_dir"] = os.path.join("runs", f"{merged['name']}-stage{number}")
        runs.append((merged, args_config or "command line"))
    return runs


def main(argv=None):
    from gluon_sr.train.run import resolve_config, train

    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    known = parser.parse_args(argv)
    flags = flag_settings(parser, argv)
    command = "python train.py " + " ".join(shlex.quote(a) for a in argv)
    for settings, source in stages_to_run(getattr(known, "config", None),
                                          getattr(known, "stage", None), flags):
        if "name" not in settings:
            raise GluonSRError("--name is required (or a recipe file that names the model)")
        train(resolve_config(settings, source), command=command)
    return 0


if __name__ == "__main__":
    run_cli(main)
