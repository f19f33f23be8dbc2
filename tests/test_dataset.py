import numpy as np
import pytest

from gluon_sr.data.shard_dataset import ShardDataset, ShardGroupedSampler, augment
from gluon_sr.data.degrade import downscale
from gluon_sr.data.shards import Recipe, build_shards


def make(image_folder, tmp_path, **kw):
    build_shards([image_folder], str(tmp_path / "s"),
                 Recipe(scale=2, crop=32, crops_per_image=4, blur_sigma=0.0, shard_size=8),
                 progress=False)
    return ShardDataset(str(tmp_path / "s"), **kw)


def test_length_and_lazy_lru_cache(image_folder, tmp_path):
    ds = make(image_folder, tmp_path, augment=False, cache_shards=1)
    assert len(ds) == 24 and ds.counts == [8, 8, 8]
    x, y = ds[9]
    assert x.shape == (3, 16, 16) and y.shape == (3, 32, 32)
    assert list(ds._cache) == [1]
    ds[0]
    assert list(ds._cache) == [0]


def test_augmentation_transforms_lr_and_hr_together(image_folder, tmp_path):
    ds = make(image_folder, tmp_path, augment=True, seed=3)
    for index in range(len(ds)):
        x, y = ds[index]
        # BI degradation commutes with flips/transposes, so LR is still HR's downscale.
        np.testing.assert_allclose(downscale(y.transpose(1, 2, 0), 2, 0.0, "matlab"),
                                   x.transpose(1, 2, 0), atol=1)
    plain = make(image_folder, tmp_path / "p", augment=False)
    assert any(not np.array_equal(ds[i][1], plain[i][1]) for i in range(len(ds)))


def test_augment_codes_cover_the_dihedral_group():
    a = np.arange(2 * 3 * 3).reshape(2, 3, 3)
    outs = {augment([a], code)[0].tobytes() for code in range(8)}
    assert len(outs) == 8


def test_sampler_is_deterministic_grouped_and_resumable(image_folder, tmp_path):
    ds = make(image_folder, tmp_path)
    batches = list(ShardGroupedSampler(ds, 4, seed=5, epoch=0))
    assert batches == list(ShardGroupedSampler(ds, 4, seed=5, epoch=0))
    assert batches != list(ShardGroupedSampler(ds, 4, seed=5, epoch=1))
    assert sorted(i for b in batches for i in b) == list(range(24))
    assert list(ShardGroupedSampler(ds, 4, seed=5, epoch=0, skip=2)) == batches[2:]
    # Shard by shard: each batch spans at most two shards.
    assert all(len({ds.locate(i)[0] for i in b}) <= 2 for b in batches)


@pytest.mark.parametrize("num_parts", [2, 3, 5])
def test_worker_shares_are_disjoint_and_cover_the_data(num_parts):
    class Fake:                                   # 4 shards of uneven size
        counts = [10, 7, 12, 9]
        offsets = np.concatenate([[0], np.cumsum(counts)])

    shares = []
    for part in range(num_parts):
        sampler = ShardGroupedSampler(Fake(), 1, seed=3, epoch=1, part=part, num_parts=num_parts)
        shares.append({i for batch in sampler for i in batch})
    assert sum(len(s) for s in shares) == 38 and set().union(*shares) == set(range(38))
    if num_parts <= 4:      # enough shards: whole shards per worker
        for share in shares:
            shards = {int(np.searchsorted(Fake.offsets, i, side="right") - 1) for i in share}
            assert all(Fake.counts[s] == sum(1 for i in share
                                             if Fake.offsets[s] <= i < Fake.offsets[s + 1])
                       for s in shards)
