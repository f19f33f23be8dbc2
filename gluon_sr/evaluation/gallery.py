"""A content x style grid of stylised images (the README gallery).

    python -m gluon_sr.evaluation.gallery --content a.jpg b.jpg --out docs/style_gallery.png
    python -m gluon_sr.evaluation.gallery --content a.jpg --adain --paintings p.jpg q.jpg

Row 0 shows each style network's painting (or, with --adain, each painting given), column 0
each content photo, and every other cell the photo stylised by that network (by AdaIN with that
painting) at --size px (longer side), titled with its count of bright blobs
(evaluation/blobs.py) when it has any. Prints the blob counts as JSON.
"""
import json
import os

from gluon_sr.utils.errors import ArgumentParser, GluonSRError, run_cli
from gluon_sr.utils.fileio import atomic_path


def network_columns(models, style_dir=None):
    """Gallery columns of trained style networks: (name, its painting, stylise)."""
    from gluon_sr.evaluation.style_bench import style_image_for
    from gluon_sr.infer.loader import load_for_inference
    from gluon_sr.infer.stylize import run_transform
    from gluon_sr.utils.imageio import read_image

    for name in models:
        model = load_for_inference(name)
        style = read_image(style_image_for(model.meta, style_dir)).rgb
        yield name, style, lambda photo, model=model: run_transform(model, photo)


def adain_columns(paintings, model="adain", vgg_weights=None):
    """Gallery columns of one AdaIN decoder with each painting: (file name, painting, stylise)."""
    from gluon_sr.infer.adain import read_painting
    from gluon_sr.infer.loader import load_adain

    transfer, _ = load_adain(model, vgg_weights)
    for path in paintings:
        painting = read_painting(path)
        yield (os.path.splitext(os.path.basename(path))[0], painting,
               lambda photo, painting=painting: transfer(photo, [painting]))


def make_gallery(columns, contents, out, size=384):
    """Write the grid to `out`; returns {column: {photo file name: number of blobs}}.
    columns: a list of (title, painting, stylise(photo) -> image)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gluon_sr.evaluation.blobs import find_blobs
    from gluon_sr.infer.stylize import working_copy
    from gluon_sr.utils.imageio import read_image

    photos = [working_copy(read_image(p).rgb, size) for p in contents]
    fig, axes = plt.subplots(len(photos) + 1, len(columns) + 1,
                             figsize=(2.4 * (len(columns) + 1), 2.4 * (len(photos) + 1)),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    blobs = {}
    for j, (name, style, stylise) in enumerate(columns, start=1):
        axes[0, j].imshow(working_copy(style, size))
        axes[0, j].set_title(name, fontsize=9)
        blobs[name] = {}
        for i, (path, photo) in enumerate(zip(contents, photos), start=1):
            stylised = stylise(photo)
            found = len(find_blobs(photo, stylised))
            blobs[name][os.path.basename(path)] = found
            axes[i, j].imshow(stylised)
            if found:
                axes[i, j].set_title(f"{found} blob{'s' * (found > 1)}", fontsize=8, color="red")
    for i, (path, photo) in enumerate(zip(contents, photos), start=1):
        axes[i, 0].imshow(photo)
        axes[i, 0].set_title(os.path.basename(path), fontsize=9)
    fig.tight_layout()
    with atomic_path(out, ".png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return blobs


def main(argv=None):
    p = ArgumentParser(description="Content x style grid of stylised images")
    p.add_argument("--models", nargs="*", default=None, help="default: every style model")
    p.add_argument("--adain", nargs="?", const="adain", default=None, metavar="MODEL",
                   help="columns of an AdaIN decoder (default adain) with --paintings")
    p.add_argument("--paintings", nargs="+", default=(), help="with --adain: the paintings")
    p.add_argument("--vgg", default="", help="with --adain: VGG16 weights "
                   "(default $GLUON_SR_VGG16)")
    p.add_argument("--content", nargs="+", required=True, help="content photos (rows)")
    p.add_argument("--size", type=int, default=384, help="longer side of each cell's image")
    p.add_argument("--style-dir", default=None, help="where the style images are")
    p.add_argument("--out", default="style_gallery.png")
    args = p.parse_args(argv)
    if args.adain:
        if not args.paintings:
            raise GluonSRError("--adain needs --paintings")
        columns = adain_columns(args.paintings, args.adain, args.vgg or None)
    else:
        if args.models is None:
            from gluon_sr.model_store import models_where

            args.models = models_where(lambda m: m.get("task") == "style")
        if not args.models:
            raise GluonSRError("no style models")
        columns = network_columns(args.models, args.style_dir)
    blobs = make_gallery(list(columns), args.content, args.out, args.size)
    print(json.dumps({"gallery": args.out, "blobs": blobs,
                      "images_with_blobs": sum(n > 0 for m in blobs.values() for n in m.values())},
                     indent=1))
    return 0


if __name__ == "__main__":
    run_cli(main)
