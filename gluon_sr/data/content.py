"""Content photos for style training: folders of photos, the HR crops of SR shards, or
photo / painting pairs for arbitrary style (AdaIN)."""
import hashlib
import logging
import os

import numpy as np
from mxnet import gluon
from PIL import Image

from gluon_sr.utils.errors import GluonSRError
from gluon_sr.utils.imageio import list_images, read_image, to_uint8

logger = logging.getLogger(__name__)


def resize_shorter(rgb_uint8, size):
    """An HxWx3 uint8 image resized (bicubic) so that its shorter side is `size`."""
    h, w = rgb_uint8.shape[:2]
    scale = size / min(h, w)
    new = (max(size, round(w * scale)), max(size, round(h * scale)))
    return np.asarray(Image.fromarray(rgb_uint8).resize(new, Image.BICUBIC))


def read_painting(path, shorter):
    """A style image as the losses take it: HxWx3 floats in 0..1, its shorter side resized to
    `shorter` px (0: the file as it is). Gram and AdaIN statistics depend on that scale."""
    rgb = read_image(path).rgb
    if shorter:
        rgb = resize_shorter(to_uint8(rgb), shorter).astype(np.float32) / 255
    return rgb


class ContentFolderDataset(gluon.data.Dataset):
    """Content photos held in memory at `size` on the shorter side; random crop^2 crops (crop
    defaults to size) + flips.

    Crops are drawn from (seed, epoch, index), like ShardDataset's augmentation, so a resumed
    run sees the same data as an uninterrupted one.
    """

    def __init__(self, folders, size=256, seed=0, crop=None):
        self.size, self.seed, self.epoch = size, seed, 0
        self.crop = crop or size
        self.images, self.files = [], []
        for path in list_images(folders):
            try:
                self.images.append(resize_shorter(to_uint8(read_image(path).rgb), size))
                self.files.append(os.path.relpath(path))
            except GluonSRError as e:
                logger.warning(f"skipped {e}")
        if not self.images:
            raise GluonSRError(f"no usable content images in {', '.join(folders)}")
        self.counts = [len(self.images)]           # one "shard", for ShardGroupedSampler
        self.offsets = np.array([0, len(self.images)])

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        img = self.images[index]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        y = rng.integers(0, img.shape[0] - self.crop + 1)
        x = rng.integers(0, img.shape[1] - self.crop + 1)
        crop = img[y:y + self.crop, x:x + self.crop]
        if rng.integers(2):
            crop = crop[:, ::-1]
        return np.ascontiguousarray(crop.transpose(2, 0, 1))

    def fingerprint(self):
        return hashlib.sha256("\n".join(self.files).encode()).hexdigest()


class HRCrops(gluon.data.Dataset):
    """Only the HR crops of a ShardDataset, as style-training content."""

    def __init__(self, shards):
        self.shards = shards
        self.counts, self.offsets = shards.counts, shards.offsets

    @property
    def epoch(self):
        return self.shards.epoch

    @epoch.setter
    def epoch(self, value):
        self.shards.epoch = value

    def __len__(self):
        return len(self.shards)

    def __getitem__(self, index):
        return self.shards[index][1]


class PairedCrops:
    """(photo crop, painting crop) pairs: the i-th photo with a painting drawn from
    (seed, epoch, i), so a resumed run sees the same pairs. Looks like a ShardDataset to the
    batch sampler (one "shard")."""

    def __init__(self, photos, paintings, seed):
        self.photos, self.paintings, self.seed = photos, paintings, seed
        self.counts, self.offsets = photos.counts, photos.offsets

    @property
    def epoch(self):
        return self.photos.epoch

    @epoch.setter
    def epoch(self, value):
        self.photos.epoch = self.paintings.epoch = value

    def __len__(self):
        return len(self.photos)

    def __getitem__(self, index):
        j = int(np.random.default_rng([self.seed, self.epoch, index, 1]).integers(
            len(self.paintings)))
        return self.photos[index], self.paintings[j]


def centre_crops(folder, size, max_images, load_size=None):
    """Held-out photos as size x size float crops (shorter side first resized to `load_size`,
    by default `size`).

    Only the images directly in `folder` count, not those in its subfolders: the style
    recipes hold out the six top-level photos of ../shared/data/content and train on the
    folders below it.
    """
    if not os.path.isdir(folder):
        raise GluonSRError(f"{folder}: validation folder not found")
    paths = [p for p in list_images([folder]) if os.path.dirname(p) == folder.rstrip(os.sep)]
    crops = []
    for path in paths[:max_images]:
        img = resize_shorter(to_uint8(read_image(path).rgb), load_size or size)
        top, left = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
        crops.append(img[top:top + size, left:left + size].astype(np.float32) / 255.0)
    return crops
