import json
import os

import mxnet as mx
import numpy as np
import pytest

from gluon_sr.data.degrade import downscale, gaussian_blur
from gluon_sr.utils.errors import GluonSRError
from gluon_sr.utils.fileio import sha256_file
from gluon_sr.data.shards import MANIFEST, Recipe, build_shards, load_shard, read_manifest

RECIPE = dict(scale=4, crop=64, crops_per_image=3, blur_sigma=1.0, shard_size=6, seed=1)


def build(image_folder, out, **overrides):
    return build_shards([image_folder], str(out), Recipe(**{**RECIPE, **overrides}),
                        progress=False)


def test_round_trip_and_manifest(image_folder, tmp_path):
    manifest = build(image_folder, tmp_path / "s")
    # 5 usable images x 3 crops, 2 images per shard; the 40x50 image is too small.
    assert manifest["num_samples"] == 15 and len(manifest["shards"]) == 3
    assert [s["reason"] for s in manifest["skipped"]] == ["too small (50x40 < crop 64)"]
    on_disk = json.load(open(tmp_path / "s" / MANIFEST))
    assert on_disk == read_manifest(str(tmp_path / "s"))
    data = load_shard(str(tmp_path / "s"), manifest["shards"][0])
    assert data["x"].dtype == np.uint8 and data["x"].shape == (6, 3, 16, 16)
    assert data["y"].dtype == np.uint8 and data["y"].shape == (6, 3, 64, 64)
    # Each LR sample is exactly the recipe applied to its HR crop.
    hr = data["y"][2].transpose(1, 2, 0)
    np.testing.assert_array_equal(downscale(hr, 4, 1.0, "matlab"), data["x"][2].transpose(1, 2, 0))


def test_same_seed_same_shards_other_seed_differs(image_folder, tmp_path):
    a = build(image_folder, tmp_path / "a")
    b = build(image_folder, tmp_path / "b")
    c = build(image_folder, tmp_path / "c", seed=2)
    assert [s["sha256"] for s in a["shards"]] == [s["sha256"] for s in b["shards"]]
    assert [s["sha256"] for s in a["shards"]] != [s["sha256"] for s in c["shards"]]


def test_rerun_keeps_verified_shards_and_rebuilds_the_rest(image_folder, tmp_path):
    out = tmp_path / "s"
    first = build(image_folder, out)
    paths = [out / s["file"] for s in first["shards"]]
    stamps = [p.stat().st_mtime_ns for p in paths]
    hashes = [sha256_file(p) for p in paths]
    paths[1].write_bytes(b"garbage")          # corrupt one shard
    os.unlink(paths[2])                       # and lose another
    second = build(image_folder, out)
    assert paths[0].stat().st_mtime_ns == stamps[0]       # kept, not rewritten
    # The rebuilt files themselves are the originals again, byte for byte.
    assert [sha256_file(p) for p in paths] == hashes
    assert [s["sha256"] for s in second["shards"]] == [s["sha256"] for s in first["shards"]]


def test_recipe_change_in_same_folder_is_refused(image_folder, tmp_path):
    build(image_folder, tmp_path / "s")
    with pytest.raises(GluonSRError, match="different recipe"):
        build(image_folder, tmp_path / "s", blur_sigma=0.0)


def test_corrupt_shard_is_detected_on_load(image_folder, tmp_path):
    manifest = build(image_folder, tmp_path / "s")
    entry = manifest["shards"][0]
    path = tmp_path / "s" / entry["file"]
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(GluonSRError, match="corrupt shard"):
        load_shard(str(tmp_path / "s"), entry)


def test_unreadable_and_non_image_files_are_skipped_with_reasons(image_folder, tmp_path):
    open(os.path.join(image_folder, "broken.png"), "wb").write(b"\x89PNG\r\n\x1a\nxx")
    open(os.path.join(image_folder, "empty.jpg"), "wb").close()
    manifest = build(image_folder, tmp_path / "s")
    reasons = {s["file"]: s["reason"] for s in manifest["skipped"]}
    assert reasons["empty.jpg"] == "empty file"
    assert "broken.png" in reasons
    assert manifest["num_samples"] == 15


def test_exclude_patterns_hold_images_out(image_folder, tmp_path):
    manifest = build_shards([image_folder], str(tmp_path / "s"), Recipe(**RECIPE),
                            progress=False, exclude=["sub/*"])
    images = [i for s in manifest["shards"] for i in s["images"]]
    assert images and not any(i.startswith("sub/") for i in images)


def test_parallel_workers_give_identical_shards(image_folder, tmp_path):
    serial = build(image_folder, tmp_path / "a")
    parallel = build_shards([image_folder], str(tmp_path / "b"), Recipe(**RECIPE), workers=2,
                            progress=False)
    assert [s["sha256"] for s in serial["shards"]] == [s["sha256"] for s in parallel["shards"]]


def test_vgg_targets_are_the_hr_features(image_folder, tmp_path, vgg_file):
    from gluon_sr.archs.vgg import load_loss_vgg

    manifest = build_shards([image_folder], str(tmp_path / "s"),
                            Recipe(**{**RECIPE, "vgg_layer": "relu2_2"}), vgg_weights=vgg_file,
                            progress=False)
    assert manifest["recipe"]["vgg_convention"] == "caffe"
    data = load_shard(str(tmp_path / "s"), manifest["shards"][0])
    assert data["feat"].dtype == np.float16 and data["feat"].shape == (6, 128, 32, 32)
    vgg, _ = load_loss_vgg(("relu2_2",), weights=vgg_file)
    expected = vgg(mx.nd.array(data["y"][:2].astype(np.float32) / 255))["relu2_2"].asnumpy()
    np.testing.assert_allclose(data["feat"][:2].astype(np.float32), expected, rtol=2e-3, atol=0.5)


def test_gaussian_blur_matches_sampled_kernel():
    img = np.zeros((21, 21, 1))
    img[10, 10] = 1.0
    out = gaussian_blur(img, 1.0)[..., 0]
    ax = np.arange(-10, 11)
    g = np.exp(-ax ** 2 / 2.0)
    g /= g[np.abs(ax) <= 3].sum()
    np.testing.assert_allclose(out[10, 7:14], g[7:14] * g[10], rtol=1e-6)
    assert out.sum() == pytest.approx(1.0)


def test_jpeg_band_and_hr_scale_are_applied_and_recorded(image_folder, tmp_path):
    from gluon_sr.data.degrade import jpeg_roundtrip, shrink

    recipe = Recipe(scale=2, crop=32, crops_per_image=2, blur_sigma=0.0, shard_size=8,
                    hr_scale=0.75, jpeg_quality=[40, 40])
    manifest = build_shards([image_folder], str(tmp_path / "j"), recipe, progress=False)
    assert manifest["recipe"]["jpeg_quality"] == [40, 40] and manifest["recipe"]["hr_scale"] == 0.75
    # 96x80 and 88x88 sources survive the 0.75 shrink (>= 32 px); the 40x50 one does not.
    assert {s["file"] for s in manifest["skipped"]} == {"sub/img5.png"}
    data = load_shard(str(tmp_path / "j"), manifest["shards"][0])
    hr, lr = data["y"][0].transpose(1, 2, 0), data["x"][0].transpose(1, 2, 0)
    expected = jpeg_roundtrip(downscale(np.ascontiguousarray(hr), 2, 0.0), 40)
    np.testing.assert_array_equal(lr, expected)
    assert shrink(np.zeros((40, 60, 3), np.uint8), 0.5).shape == (20, 30, 3)
    with pytest.raises(GluonSRError, match="--jpeg"):
        Recipe(jpeg_quality=[90, 20]).validate()
