"""Training shards: LR/HR crop pairs (and optional VGG targets) in `mx.nd.save` files.

A shard is a dict {'x': LR uint8 NCHW, 'y': HR uint8 NCHW[, 'feat': float16 NCHW]}. A
`manifest.json` beside the shards records the recipe, each shard's images, sample count and
sha256, and every skipped source file with the reason. Builds are deterministic for a given
`seed` and source folder, and resumable: shards whose checksum matches are kept.
"""
import fnmatch
import math
import logging
import multiprocessing
import os
import zlib
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from gluon_sr.data.degrade import RESIZERS, downscale, jpeg_roundtrip, random_crops, shrink
from gluon_sr.utils.errors import GluonSRError, describe
from gluon_sr.utils.fileio import (atomic_nd_save, atomic_write_json, output_folder,
                                   read_json_if_exists, sha256_file)
from gluon_sr.utils.imageio import list_images

logger = logging.getLogger(__name__)
MANIFEST = "manifest.json"
FORMAT = "gluon-sr-shards/1"


@dataclass
class Recipe:
    scale: int = 4
    crop: int = 288                 # HR crop side; LR side is crop // scale
    crops_per_image: int = 16
    blur_sigma: float = 1.0
    resize: str = "matlab"
    shard_size: int = 1000
    seed: int = 0
    vgg_layer: Optional[str] = None   # store the HR crops' VGG features at this tap
    vgg_convention: Optional[str] = None
    hr_scale: float = 1.0             # shrink each source by this first (hides its own JPEG noise)
    jpeg_quality: Optional[list] = None   # [low, high]: LR saved as JPEG of a quality in the band

    def validate(self):
        if self.scale not in (2, 3, 4, 8):
            raise GluonSRError(f"--scale must be 2, 3, 4 or 8, got {self.scale}")
        if self.crop % self.scale:
            raise GluonSRError(f"--crop {self.crop} must be divisible by --scale {self.scale}")
        if self.crop // self.scale < 4:
            raise GluonSRError(f"--crop {self.crop} is too small for scale {self.scale}")
        if self.crops_per_image < 1 or self.shard_size < 1:
            raise GluonSRError("--crops-per-image and --shard-size must be >= 1")
        if self.blur_sigma < 0:
            raise GluonSRError("--blur must be >= 0")
        if self.resize not in RESIZERS:
            raise GluonSRError(f"--resize must be one of {RESIZERS}")
        if not 0 < self.hr_scale <= 1:
            raise GluonSRError(f"--hr-scale must be in (0, 1], got {self.hr_scale}")
        if self.jpeg_quality is not None:
            low, high = self.jpeg_quality
            if not 1 <= low <= high <= 100:
                raise GluonSRError(f"--jpeg {low}-{high}: qualities must be 1-100, low first")


def default_crop(scale):
    """Seed 002 / Johnson et al.: 288 px HR patches for x4 (72 px LR), 144 px for x2."""
    return {2: 144, 3: 216, 4: 288, 8: 288}[scale]


# --------------------------------------------------------------------------- planning

def _header_check(path, min_side):
    """Cheap check from the file header: (ok, reason)."""
    from PIL import Image, UnidentifiedImageError

    try:
        if os.path.getsize(path) == 0:
            return False, "empty file"
        with Image.open(path) as im:
            w, h = im.size
    except UnidentifiedImageError:
        return False, "not an image"
    except OSError as e:
        return False, f"unreadable ({e})"
    except Exception as e:  # Pillow's plug-ins raise ValueError etc. on malformed headers
        return False, f"cannot decode ({type(e).__name__}: {e})"
    if min(w, h) < min_side:
        return False, f"too small ({w}x{h} < crop {min_side})"
    return True, ""


def plan(sources, recipe, exclude=()):
    """Source images in a stable order, split into shards. Returns (shards, skipped).

    exclude: glob patterns on the path relative to its source folder (e.g. held-out images).
    """
    files = []
    for src in sources:
        if not os.path.isdir(src):
            raise GluonSRError(f"{src}: source folder not found")
        for path in list_images([src]):
            rel = os.path.relpath(path, src)
            if not any(fnmatch.fnmatch(rel, pattern) for pattern in exclude):
                files.append((path, rel))
    if not files:
        raise GluonSRError(f"no images found in {', '.join(sources)}")
    usable, skipped = [], []
    for path, rel in files:
        ok, reason = _header_check(path, math.ceil(recipe.crop / recipe.hr_scale))
        if ok:
            usable.append((path, rel))
        else:
            skipped.append({"file": rel, "reason": reason})
    per_shard = max(1, recipe.shard_size // recipe.crops_per_image)
    shards = [usable[i:i + per_shard] for i in range(0, len(usable), per_shard)]
    return shards, skipped


# --------------------------------------------------------------------------- building

def make_pairs(job):
    """Worker: one source image -> list of (lr, hr) uint8 HWC crops, or an error string."""
    from gluon_sr.utils.imageio import read_image, to_uint8

    path, rel, recipe_dict = job
    recipe = Recipe(**recipe_dict)
    try:
        img = shrink(to_uint8(read_image(path).rgb), recipe.hr_scale)
    except GluonSRError as e:
        return rel, None, str(e).split(": ", 1)[-1]
    if min(img.shape[:2]) < recipe.crop:
        return rel, None, f"too small after --hr-scale ({img.shape[1]}x{img.shape[0]})"
    # Seeded by the file's relative path, so adding files does not change other files' crops.
    rng = np.random.default_rng([recipe.seed, zlib.crc32(rel.encode())])
    pairs = []
    for hr in random_crops(img, recipe.crop, recipe.crops_per_image, rng):
        lr = downscale(hr, recipe.scale, recipe.blur_sigma, recipe.resize)
        if recipe.jpeg_quality:
            lr = jpeg_roundtrip(lr, rng.integers(recipe.jpeg_quality[0],
                                                 recipe.jpeg_quality[1] + 1))
        pairs.append((lr, np.ascontiguousarray(hr)))
    return rel, pairs, ""


def _vgg_features(vgg, layer, hr_nchw_uint8, batch=16):
    import mxnet as mx

    feats = []
    for i in range(0, len(hr_nchw_uint8), batch):
        x = mx.nd.array(hr_nchw_uint8[i:i + batch], dtype="float32") / 255.0
        feats.append(vgg(x)[layer].astype("float16").asnumpy())
    return np.concatenate(feats, axis=0)


def _load_manifest(out_dir):
    return read_json_if_exists(os.path.join(out_dir, MANIFEST), "manifest (delete it to rebuild)")


def build_shards(sources, out_dir, recipe, workers=1, vgg_weights=None, progress=True,
                 exclude=()):
    """Build (or complete) the shards for `recipe` from image folders. Returns the manifest."""
    import mxnet as mx
    from tqdm import tqdm

    recipe.validate()
    output_folder(out_dir)
    vgg = None
    if recipe.vgg_layer:
        from gluon_sr.archs.vgg import load_loss_vgg

        vgg, source = load_loss_vgg((recipe.vgg_layer,), weights=vgg_weights)
        vgg.hybridize(static_alloc=True)
        recipe.vgg_convention = source["convention"]
    shard_plan, skipped = plan(sources, recipe, exclude)
    previous = _load_manifest(out_dir)
    if previous is not None and previous.get("recipe") != asdict(recipe):
        raise GluonSRError(f"{out_dir} holds shards built with a different recipe "
                           f"({previous.get('recipe')}); choose another --out or delete it")
    kept = {s["file"]: s for s in (previous or {}).get("shards", [])}

    manifest = {"format": FORMAT, "recipe": asdict(recipe), "sources": list(sources),
                "exclude": list(exclude),
                "lr_shape": [3, recipe.crop // recipe.scale, recipe.crop // recipe.scale],
                "hr_shape": [3, recipe.crop, recipe.crop], "shards": [], "skipped": skipped}
    for entry in skipped[:10]:
        logger.warning(f"skipped {entry['file']}: {entry['reason']}")
    if len(skipped) > 10:
        logger.warning(f"skipped {len(skipped) - 10} more file(s); see {MANIFEST}")
    total_images = sum(len(s) for s in shard_plan)
    bar = tqdm(total=total_images, unit="img", desc="build", disable=not progress)
    pool = multiprocessing.get_context("spawn").Pool(workers) if workers > 1 else None
    try:
        for index, images in enumerate(shard_plan):
            name = f"shard_{index:05d}.params"
            path = os.path.join(out_dir, name)
            rels = [rel for _, rel in images]
            old = kept.get(name)
            if (old and old["images"] == rels and os.path.exists(path)
                    and sha256_file(path) == old["sha256"]):
                manifest["shards"].append(old)
                manifest["skipped"].extend(old.get("failed", []))
                bar.update(len(images))
                continue
            jobs = [(p, rel, asdict(recipe)) for p, rel in images]
            results = pool.imap(make_pairs, jobs) if pool else map(make_pairs, jobs)
            lrs, hrs, failed = [], [], []
            for rel, pairs, error in results:
                bar.update(1)
                if pairs is None:
                    failed.append({"file": rel, "reason": error})
                    logger.warning(f"skipped {rel}: {error}")
                    continue
                for lr, hr in pairs:
                    lrs.append(lr.transpose(2, 0, 1))
                    hrs.append(hr.transpose(2, 0, 1))
            if not lrs:
                continue
            x, y = np.stack(lrs), np.stack(hrs)
            data = {"x": mx.nd.array(x, dtype="uint8"), "y": mx.nd.array(y, dtype="uint8")}
            if vgg is not None:
                data["feat"] = mx.nd.array(_vgg_features(vgg, recipe.vgg_layer, y), dtype="float16")
            atomic_nd_save(path, data)
            manifest["shards"].append({"file": name, "samples": len(x), "images": rels,
                                       "failed": failed, "sha256": sha256_file(path)})
            manifest["skipped"].extend(failed)
            # Written after every shard, so an interrupted build resumes where it stopped.
            _write_manifest(out_dir, manifest)
    finally:
        bar.close()
        if pool:
            pool.terminate()
    if not manifest["shards"]:
        raise GluonSRError("no training samples could be made (every image was skipped)")
    _write_manifest(out_dir, manifest)
    return manifest


def _write_manifest(out_dir, manifest):
    manifest["num_samples"] = sum(s["samples"] for s in manifest["shards"])
    manifest["num_images"] = sum(len(s["images"]) - len(s["failed"]) for s in manifest["shards"])
    atomic_write_json(os.path.join(out_dir, MANIFEST), manifest)


def manifest_hash(shard_dir):
    """sha256 of the manifest: identifies exactly which training data a model saw."""
    return sha256_file(os.path.join(shard_dir, MANIFEST))


def read_manifest(shard_dir):
    manifest = _load_manifest(shard_dir)
    if manifest is None:
        raise GluonSRError(f"{shard_dir}: no {MANIFEST} (build shards with data_prep/build.py)")
    if manifest.get("format") != FORMAT or not manifest.get("shards"):
        raise GluonSRError(f"{shard_dir}/{MANIFEST}: not a gluon-sr shard manifest")
    return manifest


def load_shard(shard_dir, entry, verify=True):
    """Load one shard as numpy arrays, checking its checksum and contents."""
    import mxnet as mx

    path = os.path.join(shard_dir, entry["file"])
    if not os.path.exists(path):
        raise GluonSRError(f"{path}: shard listed in the manifest is missing")
    if verify and sha256_file(path) != entry["sha256"]:
        raise GluonSRError(f"{path}: corrupt shard (checksum does not match the manifest)")
    try:
        data = mx.nd.load(path)
    except Exception as e:
        raise GluonSRError(f"{path}: corrupt shard ({describe(e)})")
    if not isinstance(data, dict) or "x" not in data or "y" not in data:
        raise GluonSRError(f"{path}: corrupt shard (no 'x'/'y' arrays)")
    out = {k: v.asnumpy() for k, v in data.items()}
    if len(out["x"]) != entry["samples"] or len(out["y"]) != entry["samples"]:
        raise GluonSRError(f"{path}: corrupt shard (sample count differs from the manifest)")
    return out
