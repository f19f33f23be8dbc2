"""Upscale or stylise images with gluon-sr models.

    python infer.py photo.png                 # -> photo_x4.png with the shipped sr_x4 model
    python infer.py photo.jpg --style mosaic  # -> photo_mosaic.png (feed-forward network)
    python infer.py photo.jpg --style-image painting.jpg --optimize   # Gatys et al.
    python infer.py photos/                   # -> photos_x4/ (subfolders mirrored)
    python infer.py a.png b.jpg photos/ -o out/ --model sr_x4
"""
import argparse
import os
import sys

import gluon_sr  # noqa: F401  (sets OpenMP threads before MXNet loads)
from gluon_sr.errors import GluonSRError, run_cli
from gluon_sr.gatys import STYLE_WEIGHT
from gluon_sr.imageio import IMAGE_SUFFIXES


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("inputs", nargs="+", help="image files and/or folders (searched recursively)")
    p.add_argument("-o", "--output", default=None,
                   help="output file (one input) or folder (default: beside each input)")
    p.add_argument("--model", default="sr_x4", help="model name in params/ or path to NAME.json")
    p.add_argument("--tile", type=int, default=None,
                   help="tile side in input pixels (0 = never tile; default: tile large images)")
    p.add_argument("--hist-match", action=argparse.BooleanOptionalAction, default=None,
                   help="match output colours to the bicubic upscale (seed 002 post-process; "
                   "default: on for models trained with a VGG feature loss)")
    p.add_argument("--self-ensemble", action="store_true",
                   help="SR: average the outputs for the 8 flips/rotations of the input "
                   "(EDSR+; 8x the time, +0.1-0.2 dB PSNR, see README)")
    p.add_argument("--gpu", type=int, default=None, help="GPU id (default: CPU)")
    p.add_argument("--precision", choices=("fp32", "bf16", "int8"), default="fp32",
                   help="mxnet backend: bf16 or int8 (oneDNN) inference; see README for the "
                   "speed and PSNR each gives")
    p.add_argument("--backend", choices=("mxnet", "onnxruntime"), default="mxnet",
                   help="onnxruntime: run an exported model (exports/NAME.onnx or a .onnx "
                   "path; python -m gluon_sr.export makes it) without MXNet")
    g = p.add_argument_group("style transfer")
    g.add_argument("--style", default=None, metavar="NAME",
                   help="stylise with a trained style network (params/NAME.json)")
    g.add_argument("--style-image", default=None,
                   help="with --optimize: the painting whose style to copy (Gatys et al.)")
    g.add_argument("--optimize", action="store_true",
                   help="optimise the pixels (slow; the yardstick for the networks)")
    g.add_argument("--iters", type=int, default=300)
    g.add_argument("--optimizer", choices=("lbfgs", "adam"), default="lbfgs")
    g.add_argument("--content-weight", type=float, default=1.0)
    g.add_argument("--style-weight", type=float, default=STYLE_WEIGHT)
    g.add_argument("--tv-weight", type=float, default=0.0)
    g.add_argument("--vgg", default="", help="VGG16 weights for --optimize")
    g.add_argument("--size", type=int, default=0,
                   help="working resolution: longer side in pixels (0 = as it is)")
    g.add_argument("--preserve-color", action="store_true",
                   help="transfer only luminance; keep the photo's colours")
    g.add_argument("--strength", type=float, default=1.0,
                   help="blend: 1 = fully stylised, 0 = the photo")
    return p.parse_args(argv)


def expand_inputs(inputs):
    """[(image path, folder it was found in or None)], folders searched recursively."""
    from gluon_sr.imageio import list_images

    found = []
    for item in inputs:
        if not os.path.exists(item):
            raise GluonSRError(f"{item}: no such file or folder")
        if os.path.isdir(item):
            found.extend((path, item) for path in list_images([item]))
        else:
            found.append((item, None))
    return found


def output_path(src, root, output, suffix, single):
    """Where the upscaled `src` goes.

    A file from a folder keeps its place below that folder, mirrored into -o or, without -o,
    into a sibling folder FOLDER_SUFFIX (so a re-run never redoes earlier outputs, and equal
    names in different subfolders do not collide). A named file goes beside its input, into
    -o if that is a folder, or to -o itself for a single input with an image suffix.
    """
    name = os.path.splitext(os.path.basename(src))[0] + f"_{suffix}.png"
    if root is not None:
        out_root = output or os.path.normpath(root) + f"_{suffix}"
        return os.path.join(out_root, os.path.relpath(os.path.dirname(src), root), name)
    if output is None:
        return os.path.join(os.path.dirname(src), name)
    if single and output.lower().endswith(IMAGE_SUFFIXES):
        return output
    return os.path.join(output, name)


def prepare_output_folder(dst, made_by_us):
    """Make the output's folder when -o names a folder (or mirrors one); otherwise it must exist.

    Checked before the (possibly long) processing, so a bad -o fails at once.
    """
    folder = os.path.dirname(os.path.abspath(dst))
    if made_by_us:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as e:
            raise GluonSRError(f"{dst}: cannot create output folder ({e.strerror})")
    elif not os.path.isdir(folder):
        raise GluonSRError(f"{dst}: output folder {folder} does not exist")


def load_network(name, args, ctx):
    """(network, its JSON description) for the chosen backend."""
    if args.backend == "onnxruntime":
        from gluon_sr.onnx_backend import OnnxModel

        model = OnnxModel(name)
        return model, model.meta
    from gluon_sr.model_store import load_model

    net, meta = load_model(name, ctx=ctx)
    if args.gpu is not None:
        net.hybridize(static_alloc=True)
        return net, meta
    from gluon_sr.precision import convert

    return convert(net, args.precision), meta      # fp32: the fused oneDNN graph


def make_stylizer(args, ctx):
    """(function LoadedImage -> (rgb, alpha, seconds), output suffix) for the style options."""
    import time

    from gluon_sr.imageio import read_image
    from gluon_sr.stylize import finish, run_transform, working_copy

    if not 0.0 <= args.strength <= 1.0:
        raise GluonSRError("--strength must be between 0 and 1")
    if args.optimize:
        if args.backend != "mxnet":
            raise GluonSRError("--optimize runs VGG16 gradients in MXNet; drop --backend")
        if not args.style_image:
            raise GluonSRError("--optimize needs --style-image PAINTING")
        from gluon_sr.gatys import STYLE_LAYERS, StyleObjective, optimise
        from gluon_sr.vgg import load_loss_vgg

        vgg, _ = load_loss_vgg(tuple(dict.fromkeys((*STYLE_LAYERS, "relu2_2"))),
                               weights=args.vgg or None, ctx=[ctx])
        style = working_copy(read_image(args.style_image).rgb, args.size)
        suffix = os.path.splitext(os.path.basename(args.style_image))[0] + "_gatys"

        def run(image):
            start = time.perf_counter()
            content = working_copy(image.rgb, args.size)
            objective = StyleObjective(vgg, content, style, content_weight=args.content_weight,
                                       style_weight=args.style_weight, tv_weight=args.tv_weight,
                                       ctx=ctx)
            out, _ = optimise(objective, content, iters=args.iters, optimizer=args.optimizer,
                              log_every=max(1, args.iters // 10))
            return finish(out, content, args.preserve_color, args.strength), \
                working_alpha(image, args.size), time.perf_counter() - start
        return run, suffix
    if args.style_image:
        raise GluonSRError("--style-image goes with --optimize; for a trained network use --style")
    net, meta = load_network(args.style, args, ctx)
    if meta.get("task") != "style":
        raise GluonSRError(f"model {args.style} is not a style transfer model")

    def run(image):
        start = time.perf_counter()
        content = working_copy(image.rgb, args.size)
        out = run_transform(net, content, tile=args.tile, ctx=ctx)
        return finish(out, content, args.preserve_color, args.strength), \
            working_alpha(image, args.size), time.perf_counter() - start
    return run, os.path.splitext(os.path.basename(args.style))[0]


def working_alpha(image, size):
    """The input's alpha at the working resolution, so stylised images keep transparency."""
    from gluon_sr.stylize import working_copy

    if image.alpha is None:
        return None
    return working_copy(image.alpha[..., None].repeat(3, axis=2), size)[..., 0]


def main(argv=None):
    from gluon_sr.imageio import read_image, write_image
    from gluon_sr.inference import inference_defaults, upscale_image

    args = parse_args(argv)
    if args.tile is not None and args.tile < 0:
        raise GluonSRError("--tile must be >= 0")
    ctx = None                                  # ONNX Runtime runs on the CPU
    if args.backend == "mxnet":
        import mxnet as mx

        ctx = mx.gpu(args.gpu) if args.gpu is not None else mx.cpu()
    elif args.gpu is not None or args.precision != "fp32":
        raise GluonSRError("--gpu and --precision go with the mxnet backend")
    if args.precision != "fp32" and args.gpu is not None:
        raise GluonSRError("--precision bf16/int8 are CPU (oneDNN) paths; drop --gpu")
    jobs = expand_inputs(args.inputs)
    if not jobs:
        raise GluonSRError(f"no images found in {' '.join(args.inputs)}")
    single = len(jobs) == 1 and jobs[0][1] is None
    if args.output and not single and args.output.lower().endswith(IMAGE_SUFFIXES):
        raise GluonSRError(f"-o {args.output} names a file but there are {len(jobs)} inputs")

    stylising = bool(args.style or args.optimize or args.style_image)
    if stylising and args.self_ensemble:
        raise GluonSRError("--self-ensemble is for super-resolution models")
    if stylising:
        process, suffix = make_stylizer(args, ctx)
    else:
        net, meta = load_network(args.model, args, ctx)
        if meta.get("task", "sr") != "sr":
            raise GluonSRError(f"model {args.model} is a {meta.get('task')} model; "
                               "use --style NAME")
        scale = int(meta["config"]["scale"])
        suffix = f"x{scale}"
        hist_match = (inference_defaults(meta)["hist_match"] if args.hist_match is None
                      else args.hist_match)

        def process(image):
            return upscale_image(net, image, scale, tile=args.tile, hist_match=hist_match,
                                 ctx=ctx, self_ensemble=args.self_ensemble)

    failures = []
    for src, root in jobs:
        try:
            image = read_image(src)
            if min(image.size) < 4:
                raise GluonSRError(f"{src}: image too small ({image.size[0]}x{image.size[1]}); "
                                   "need at least 4x4")
            dst = output_path(src, root, args.output, suffix, single)
            prepare_output_folder(dst, made_by_us=root is not None or dst != args.output)
            rgb, alpha, seconds = process(image)
            # A stylised grayscale photo takes the painting's colours; keep them.
            write_image(dst, rgb, alpha, bit_depth=image.bit_depth,
                        gray=image.gray and not (stylising and not args.preserve_color))
        except GluonSRError as e:
            if single:
                raise
            print(f"error: {e}", file=sys.stderr)
            failures.append(src)
            continue
        mp = rgb.shape[0] * rgb.shape[1] / 1e6
        print(f"{src} -> {dst}  {image.size[0]}x{image.size[1]} -> {rgb.shape[1]}x{rgb.shape[0]}"
              f"  {seconds:.2f} s  {mp / seconds:.2f} MP/s")
    if failures:
        print(f"{len(failures)} of {len(jobs)} image(s) failed: {', '.join(failures)}",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    run_cli(main)
