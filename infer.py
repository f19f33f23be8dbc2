"""Upscale images with a trained gluon-sr model.

    python infer.py photo.png                 # -> photo_x4.png with the shipped sr_x4 model
    python infer.py photos/                   # -> photos_x4/ (subfolders mirrored)
    python infer.py a.png b.jpg photos/ -o out/ --model sr_x4
"""
import argparse
import os
import sys

import gluon_sr  # noqa: F401  (sets OpenMP threads before MXNet loads)
from gluon_sr.errors import GluonSRError, run_cli
from gluon_sr.imageio import IMAGE_SUFFIXES


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("inputs", nargs="+", help="image files and/or folders (searched recursively)")
    p.add_argument("-o", "--output", default=None,
                   help="output file (one input) or folder (default: beside each input)")
    p.add_argument("--model", default="sr_x4", help="model name in params/ or path to NAME.json")
    p.add_argument("--tile", type=int, default=None,
                   help="tile side in input pixels (0 = never tile; default: tile large images)")
    p.add_argument("--hist-match", action="store_true",
                   help="match output colours to the bicubic upscale (seed 002 post-process)")
    p.add_argument("--gpu", type=int, default=None, help="GPU id (default: CPU)")
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


def output_path(src, root, output, scale, single):
    """Where the upscaled `src` goes.

    A file from a folder keeps its place below that folder, mirrored into -o or, without -o,
    into a sibling folder FOLDER_xS (so a re-run never upscales earlier outputs, and equal
    names in different subfolders do not collide). A named file goes beside its input, into
    -o if that is a folder, or to -o itself for a single input with an image suffix.
    """
    name = os.path.splitext(os.path.basename(src))[0] + f"_x{scale}.png"
    if root is not None:
        out_root = output or os.path.normpath(root) + f"_x{scale}"
        return os.path.join(out_root, os.path.relpath(os.path.dirname(src), root), name)
    if output is None:
        return os.path.join(os.path.dirname(src), name)
    if single and output.lower().endswith(IMAGE_SUFFIXES):
        return output
    return os.path.join(output, name)


def main(argv=None):
    import mxnet as mx

    from gluon_sr.imageio import read_image, write_image
    from gluon_sr.inference import upscale_image
    from gluon_sr.model_store import load_model

    args = parse_args(argv)
    if args.tile is not None and args.tile < 0:
        raise GluonSRError("--tile must be >= 0")
    ctx = mx.gpu(args.gpu) if args.gpu is not None else mx.cpu()
    jobs = expand_inputs(args.inputs)
    if not jobs:
        raise GluonSRError(f"no images found in {' '.join(args.inputs)}")
    single = len(jobs) == 1 and jobs[0][1] is None
    if args.output and not single and args.output.lower().endswith(IMAGE_SUFFIXES):
        raise GluonSRError(f"-o {args.output} names a file but there are {len(jobs)} inputs")

    net, meta = load_model(args.model, ctx=ctx)
    if meta.get("task", "sr") != "sr":
        raise GluonSRError(f"model {args.model} is a {meta.get('task')} model, not super-resolution")
    scale = int(meta["config"]["scale"])
    net.hybridize(static_alloc=True)

    failures = []
    for src, root in jobs:
        try:
            image = read_image(src)
            if min(image.size) < 4:
                raise GluonSRError(f"{src}: image too small ({image.size[0]}x{image.size[1]}); "
                                   "need at least 4x4")
            rgb, alpha, seconds = upscale_image(net, image, scale, tile=args.tile,
                                                hist_match=args.hist_match, ctx=ctx)
            dst = output_path(src, root, args.output, scale, single)
            if root is not None or (args.output and not single):
                os.makedirs(os.path.dirname(dst), exist_ok=True)
            write_image(dst, rgb, alpha, bit_depth=image.bit_depth, gray=image.gray)
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
