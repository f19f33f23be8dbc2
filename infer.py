"""Upscale or stylise images with gluon-sr models.

    python infer.py photo.png                 # -> photo_x4.png with the shipped sr_x4 model
    python infer.py photo.jpg --style mosaic  # -> photo_mosaic.png (feed-forward network)
    python infer.py photo.jpg --style-image painting.jpg              # AdaIN, any painting
    python infer.py photo.jpg --style-image painting.jpg --optimize   # Gatys et al.
    python infer.py photos/                   # -> photos_x4/ (subfolders mirrored)
    python infer.py a.png b.jpg photos/ -o out/ --model sr_x4
"""
import argparse
import os
import sys
import time

import gluon_sr  # noqa: F401  (sets OpenMP threads before MXNet loads)
from gluon_sr.utils.errors import ArgumentParser, GluonSRError, one_line, run_cli

# The options of each mode; one given where it does not apply is an error that names it.
MODES = {
    "upscale": ("upscaling", {"model", "tile", "hist_match", "self_ensemble", "precision",
                              "backend", "denoise", "interp"}),
    "style": ("stylising with --style", {"style", "tile", "precision", "backend", "size",
                                         "preserve_color", "strength"}),
    "adain": ("stylising with --style-image", {"style_image", "style_weights", "alpha", "mask",
                                               "style_size", "preserve_color", "size", "tile",
                                               "vgg", "model", "backend", "precision"}),
    "gatys": ("optimising with --optimize", {"optimize", "style_image", "iters", "optimizer",
                                             "content_weight", "style_weight", "tv_weight",
                                             "vgg", "size", "preserve_color", "strength"}),
}
COMMON = {"inputs", "output", "gpu", "max_pixels"}
# Without --model: sr_x4 upscales; --style-image takes the distilled AdaIN decoder, which has
# less style loss than adain at the same content loss, in 0.8x its time (docs/adain.md).
UPSCALE_MODEL, ADAIN_MODEL = "sr_x4", "adain_fast"
MAX_INPUT_PIXELS = 100_000_000


def _int_at_least(low):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value
    return parse


def _size(text):
    value = _int_at_least(0)(text)
    if 0 < value < 16:
        raise argparse.ArgumentTypeError(f"must be 0 (as it is) or >= 16, got {value}")
    return value


def _unit_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def _weights(text):
    try:
        values = [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}")
    if not values:
        raise argparse.ArgumentTypeError("expected at least one weight")
    return values


def build_parser():
    from gluon_sr.losses import STYLE_WEIGHT

    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("inputs", nargs="+", help="image files and/or folders (searched recursively)")
    p.add_argument("-o", "--output", default=None,
                   help="output file (one input) or folder (default: beside each input)")
    p.add_argument("--model", default=None,
                   help=f"model name in params/ or path to NAME.json (default: {UPSCALE_MODEL}; "
                   f"with --style-image, the AdaIN decoder {ADAIN_MODEL})")
    p.add_argument("--tile", type=_int_at_least(0), default=None,
                   help="tile side in input pixels (0 = never tile; default: tile large images)")
    p.add_argument("--hist-match", action=argparse.BooleanOptionalAction, default=None,
                   help="match output colours to the bicubic upscale (seed 002 post-process; "
                   "default: on for models trained with a VGG feature loss)")
    p.add_argument("--self-ensemble", action="store_true",
                   help="average the outputs for the 8 flips/rotations of the input "
                   "(EDSR+; 8x the time, +0.1-0.2 dB PSNR)")
    p.add_argument("--denoise", choices=("auto", "0", "1"), default=None,
                   help="with an anime model (sr_x2_anime): the model of its family for the "
                   "input's JPEG noise; auto reads the JPEG quality of each input")
    p.add_argument("--interp", type=_unit_float, default=None, metavar="ALPHA",
                   help="GAN models: blend the weights, ALPHA x the model + (1 - ALPHA) x the "
                        "fidelity model it was fine-tuned from (ESRGAN); 0 = sharpest "
                        "fidelity, 1 = most texture")
    p.add_argument("--gpu", type=_int_at_least(0), default=None, help="GPU id (default: CPU)")
    p.add_argument("--max-pixels", type=_int_at_least(1), default=MAX_INPUT_PIXELS,
                   help="refuse larger inputs, from the file header, before decoding "
                   "(default 100 MP)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "int8"), default="auto",
                   help="auto: fp32, or bf16 where the CPU has it natively and the model keeps "
                   "its quality; int8: oneDNN (docs/deployment.md gives speed and PSNR)")
    p.add_argument("--backend", choices=("auto", "mxnet", "openvino", "onnxruntime"),
                   default="auto", help="auto: the fastest path measured once on this machine "
                   "(OpenVINO when installed and faster, else MXNet); onnxruntime / openvino "
                   "also run an exported model (exports/NAME.onnx or a .onnx path) without MXNet")
    g = p.add_argument_group("style transfer")
    g.add_argument("--style", default=None, metavar="NAME",
                   help="stylise with a trained style network (params/NAME.json)")
    g.add_argument("--style-image", action="append", default=None, metavar="PAINTING",
                   help="any painting, feed-forward (AdaIN); repeat it to mix paintings")
    g.add_argument("--style-weights", type=_weights, default=None, metavar="W1,W2,...",
                   help="AdaIN: how much of each --style-image (default: equal)")
    g.add_argument("--alpha", type=_unit_float, default=1.0,
                   help="AdaIN: 1 = fully stylised, 0 = the photo as the decoder redraws it")
    g.add_argument("--mask", default=None, metavar="IMAGE",
                   help="AdaIN: white = the first --style-image, black = the second (or the "
                   "photo when there is one)")
    g.add_argument("--style-size", type=_size, default=256,
                   help="AdaIN: shorter side the paintings are resized to (default 256, as in "
                   "training; larger = finer strokes; 0 = as they are)")
    g.add_argument("--optimize", action="store_true",
                   help="Gatys et al. with --style-image: optimise the pixels (slow; the "
                   "yardstick for the networks)")
    g.add_argument("--iters", type=_int_at_least(1), default=300)
    g.add_argument("--optimizer", choices=("lbfgs", "adam"), default="lbfgs")
    g.add_argument("--content-weight", type=float, default=1.0)
    g.add_argument("--style-weight", type=float, default=STYLE_WEIGHT)
    g.add_argument("--tv-weight", type=float, default=0.0)
    g.add_argument("--vgg", default="", help="VGG16 weights for --optimize and --style-image "
                   "(default $GLUON_SR_VGG16)")
    g.add_argument("--size", type=_size, default=0,
                   help="working resolution: longer side in pixels (0 = as it is)")
    g.add_argument("--preserve-color", action="store_true",
                   help="transfer only luminance; keep the photo's colours")
    g.add_argument("--strength", type=_unit_float, default=1.0,
                   help="blend: 1 = fully stylised, 0 = the photo")
    return p


def parse_args(argv=None):
    """(options with defaults filled in, mode). A flag outside its mode is an error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # A second parse without defaults tells which options were actually given.
    bare = build_parser()
    for action in bare._actions:
        action.default = argparse.SUPPRESS
    given = vars(bare.parse_args(argv))
    mode = ("gatys" if args.optimize else "style" if args.style else
            "adain" if args.style_image else "upscale")
    if args.style and args.style_image:
        parser.error("--style (a trained network) and --style-image (any painting) exclude "
                     "each other")
    if mode == "gatys" and (not args.style_image or len(args.style_image) > 1):
        parser.error("--optimize needs one --style-image PAINTING")
    what, allowed = MODES[mode]
    stray = [_as_typed(parser, dest, argv) for dest in given if dest not in allowed | COMMON]
    if stray:
        parser.error(f"{', '.join(sorted(stray))} does not apply when {what}")
    if args.model is None:
        args.model = ADAIN_MODEL if mode == "adain" else UPSCALE_MODEL
    if args.gpu is not None and args.backend not in ("mxnet", "auto"):
        parser.error("--gpu goes with the mxnet backend")
    return args, mode


def _as_typed(parser, dest, argv):
    """The option string of `dest` as it appears on the command line (--no-x for --x)."""
    options = next(a.option_strings for a in parser._actions if a.dest == dest)
    argv = sys.argv[1:] if argv is None else argv
    typed = [o for o in options if any(a == o or a.startswith(o + "=") for a in argv)]
    return (typed or options)[0]


def make_processor(args, mode):
    """The object that turns one LoadedImage into (rgb, alpha), and names its outputs."""
    ctx = None                                  # the CPU, whatever the backend
    if args.gpu is not None:
        import mxnet as mx

        ctx = mx.gpu(args.gpu)
    if mode == "upscale":
        from gluon_sr.infer.upscale import Upscaler

        options = dict(backend=args.backend, precision=args.precision, ctx=ctx, tile=args.tile,
                       hist_match=args.hist_match, self_ensemble=args.self_ensemble)
        if args.denoise:
            if args.interp is not None:
                raise GluonSRError("--interp and --denoise do not combine (the denoising "
                                   "models have no GAN parent)")
            from gluon_sr.infer.denoise import DenoisingUpscaler

            return DenoisingUpscaler(args.model, args.denoise, **options)
        return Upscaler(args.model, interp=args.interp, **options)
    if mode == "style":
        from gluon_sr.infer.stylize import Stylizer

        return Stylizer(args.style, args.backend, args.precision, ctx, tile=args.tile,
                        size=args.size, preserve_color=args.preserve_color,
                        strength=args.strength)
    if mode == "adain":
        from gluon_sr.infer.adain_stylizer import AdaINStylizer

        return AdaINStylizer(args.style_image, args.model, weights=args.style_weights,
                             alpha=args.alpha, mask=args.mask,
                             preserve_color=args.preserve_color,
                             vgg_weights=args.vgg or None, size=args.size,
                             style_size=args.style_size, tile=args.tile,
                             backend=args.backend, precision=args.precision, ctx=ctx)
    from gluon_sr.infer.gatys import GatysStylizer

    return GatysStylizer(args.style_image[0], iters=args.iters, optimizer=args.optimizer,
                         content_weight=args.content_weight, style_weight=args.style_weight,
                         tv_weight=args.tv_weight, vgg_weights=args.vgg or None,
                         size=args.size, preserve_color=args.preserve_color,
                         strength=args.strength, ctx=ctx)


def main(argv=None):
    from gluon_sr.infer.outputs import expand_inputs, output_path, prepare_output_folder
    from gluon_sr.infer.tiling import MAX_OUTPUT_PIXELS
    from gluon_sr.utils.imageio import IMAGE_SUFFIXES, read_image, write_image

    args, mode = parse_args(argv)
    jobs = expand_inputs(args.inputs)
    if not jobs:
        raise GluonSRError(f"no images found in {' '.join(args.inputs)}")
    single = len(jobs) == 1 and jobs[0][1] is None
    if single and not os.path.exists(jobs[0][0]):
        raise GluonSRError(f"{jobs[0][0]}: no such file")     # before loading any model
    if args.output and not single and args.output.lower().endswith(IMAGE_SUFFIXES):
        raise GluonSRError(f"-o {args.output} names a file but there are {len(jobs)} inputs")
    process = make_processor(args, mode)
    model = getattr(process, "model", None)
    if model is not None:
        print(f"{model.name}: {model.note}")
    # A stylised grayscale photo takes the painting's colours; keep them.
    keep_gray = mode == "upscale" or args.preserve_color

    def check_size(w, h):
        ow, oh = process.output_size(w, h)
        if ow * oh > MAX_OUTPUT_PIXELS:
            raise GluonSRError(f"output would be {ow}x{oh} ({ow * oh / 1e6:.0f} MP; limit "
                               f"{MAX_OUTPUT_PIXELS / 1e6:.0f} MP)")

    failures, written = [], {}
    for src, root in jobs:
        try:
            image = read_image(src, max_pixels=args.max_pixels, check_size=check_size)
            if min(image.size) < 4:
                raise GluonSRError(f"{src}: image too small ({image.size[0]}x{image.size[1]}); "
                                   "need at least 4x4")
            dst = output_path(src, root, args.output, process.suffix, single)
            if os.path.abspath(dst) in written:
                raise GluonSRError(f"{src}: its result {dst} would replace that of "
                                   f"{written[os.path.abspath(dst)]}; give the files "
                                   "different names or separate -o folders")
            prepare_output_folder(dst, made_by_us=root is not None or dst != args.output)
            start = time.perf_counter()
            rgb, alpha = process(image)
            seconds = time.perf_counter() - start
            write_image(dst, rgb, alpha, bit_depth=image.bit_depth, gray=image.gray and keep_gray)
            written[os.path.abspath(dst)] = src
        except GluonSRError as e:
            if single:
                raise
            print(f"error: {one_line(e)}", file=sys.stderr)
            failures.append(src)
            continue
        mp = rgb.shape[0] * rgb.shape[1] / 1e6
        choice = f"  ({process.choice})" if getattr(process, "choice", "") else ""
        print(f"{src} -> {dst}  {image.size[0]}x{image.size[1]} -> {rgb.shape[1]}x{rgb.shape[0]}"
              f"  {seconds:.2f} s  {mp / seconds:.2f} MP/s{choice}")
    if failures:
        print(one_line(f"{len(failures)} of {len(jobs)} image(s) failed: {', '.join(failures)}"),
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    run_cli(main)
