"""A `gluon.data.Dataset` over shards that keeps only a couple of shards in memory at once, its
shard-by-shard sampler, and the endless, resumable batch stream that training draws from."""
import collections

import numpy as np
from mxnet import gluon

from gluon_sr.data.shards import load_shard, read_manifest
from gluon_sr.utils.errors import GluonSRError


def augment(arrays, code):
    """Apply one of the 8 dihedral transforms (flips and 90-degree rotations) to CHW arrays."""
    out = []
    for a in arrays:
        if code & 1:
            a = a[:, :, ::-1]
        if code & 2:
            a = a[:, ::-1, :]
        if code & 4:
            a = a.transpose(0, 2, 1)
        out.append(np.ascontiguousarray(a))
    return out


class ShardDataset(gluon.data.Dataset):
    """Samples (lr, hr[, feat]) from a shard folder, loading shards lazily with an LRU cache.

    Random access across all shards would reload shards constantly; pair it with
    ShardGroupedSampler, which visits the shards one after another in a shuffled order.
    With `augment=True` each sample gets a random dihedral transform drawn from (seed, epoch,
    index), so a resumed run sees the same data as an uninterrupted one. Stored VGG targets
    are only valid for the untransformed crop, so augmentation is off when they are used.
    """

    def __init__(self, shard_dir, augment=True, use_features=False, cache_shards=2, seed=0):
        self.shard_dir = shard_dir
        self.manifest = read_manifest(shard_dir)
        self.entries = self.manifest["shards"]
        self.recipe = self.manifest["recipe"]
        self.use_features = use_features and bool(self.recipe.get("vgg_layer"))
        self.augment = augment and not self.use_features
        self.seed = seed
        self.epoch = 0
        self.counts = [e["samples"] for e in self.entries]
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        self._cache = collections.OrderedDict()
        self._cache_size = max(1, cache_shards)

    def __len__(self):
        return int(self.offsets[-1])

    def locate(self, index):
        shard = int(np.searchsorted(self.offsets, index, side="right") - 1)
        return shard, int(index - self.offsets[shard])

    def _shard(self, shard):
        if shard in self._cache:
            self._cache.move_to_end(shard)
        else:
            self._cache[shard] = load_shard(self.shard_dir, self.entries[shard])
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return self._cache[shard]

    def __getitem__(self, index):
        shard, local = self.locate(index)
        data = self._shard(shard)
        arrays = [data["x"][local], data["y"][local]]
        if self.use_features:
            arrays.append(data["feat"][local].astype(np.float32))
        if self.augment:
            code = int(np.random.default_rng([self.seed, self.epoch, index]).integers(8))
            arrays = augment(arrays, code)
        return tuple(arrays)


class ShardGroupedSampler(gluon.data.Sampler):
    """Batches of indices, shard by shard: shard order and order within a shard are shuffled.

    Deterministic for (seed, epoch); `skip` drops the first batches, for resuming mid-epoch.
    `part` of `num_parts` (a distributed worker's rank of the worker count) keeps a disjoint
    share: whole shards (shard % num_parts == part) when there are enough, else every
    num_parts-th sample.
    """

    def __init__(self, dataset, batch_size, seed=0, epoch=0, skip=0, part=0, num_parts=1):
        self.dataset, self.batch_size = dataset, batch_size
        self.seed, self.epoch, self.skip = seed, epoch, skip
        self.part, self.num_parts = part, num_parts

    def _order(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        counts, offsets = self.dataset.counts, self.dataset.offsets
        by_shard = len(counts) >= self.num_parts
        order = []
        for shard in rng.permutation(len(counts)):
            indices = offsets[shard] + rng.permutation(counts[shard])
            if self.num_parts > 1:
                if by_shard and shard % self.num_parts != self.part:
                    continue
                if not by_shard:
                    indices = indices[indices % self.num_parts == self.part]
            order.extend(indices)
        return order

    def __iter__(self):
        order = self._order()
        batches = [order[i:i + self.batch_size]
                   for i in range(0, len(order) - self.batch_size + 1, self.batch_size)]
        for batch in batches[self.skip:]:
            yield [int(i) for i in batch]

    def __len__(self):
        return max(0, len(self._order()) // self.batch_size - self.skip)


def epoch_batches(dataset, batch_size, seed, start_step, part=0, num_parts=1):
    """Endless batches from `start_step` on, epoch by epoch, deterministic for the seed.

    `dataset` has `counts`, `offsets` and `epoch` like ShardDataset; part / num_parts: this
    worker's disjoint share of the data in a distributed run.
    """
    def sampler(epoch, skip):
        return ShardGroupedSampler(dataset, batch_size, seed=seed, epoch=epoch, skip=skip,
                                   part=part, num_parts=num_parts)

    per_epoch = len(sampler(0, 0))
    if per_epoch == 0:
        raise GluonSRError(f"worker {part} of {num_parts}: its share of the data holds less "
                           f"than one batch of {batch_size}")
    epoch, skip = divmod(start_step, per_epoch)
    while True:
        dataset.epoch = epoch
        yield from gluon.data.DataLoader(dataset, batch_sampler=sampler(epoch, skip),
                                         num_workers=0)
        epoch, skip = epoch + 1, 0
