"""Which files a run of infer.py reads and where each result goes."""
import os

from gluon_sr.utils.errors import GluonSRError
from gluon_sr.utils.imageio import IMAGE_SUFFIXES, list_images


def expand_inputs(inputs):
    """[(image path, folder it was found in or None)], folders searched recursively. A path
    that does not exist stays in the list: reading it fails for that file alone."""
    found = []
    for item in inputs:
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
        folder = os.path.relpath(os.path.dirname(src), root)
        return os.path.normpath(os.path.join(out_root, folder, name))   # no "out/./a.png"
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
