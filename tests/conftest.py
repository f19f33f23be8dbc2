"""Shared fixtures and helpers: small synthetic images and networks, running the CLIs, and
the real data/weights in ../shared when present."""
import os
import struct
import subprocess
import sys
import tempfile
import zlib

# Exports made on first use, OpenVINO's compiled networks and measured choices go to a
# temporary folder, not the user's cache (set before gluon_sr reads it).
os.environ["GLUON_SR_CACHE"] = tempfile.mkdtemp(prefix="gluon-sr-test-cache-")

import numpy as np
import pytest
from PIL import Image

import gluon_sr  # noqa: F401  (thread setup before mxnet)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("GLUON_SR_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
VGG_FILE = os.path.join(SHARED, "weights", "vgg16_features_imagenet.params")
SR_BENCH = os.path.join(SHARED, "data", "sr_bench")


def phase_detail_means(x, period):
    """numpy reference of losses.periodic_detail_means: the 3x3 mean without the padding
    (count_include_pad=False) taken off, then the mean at each of the period^2 phases."""
    from scipy import ndimage

    n, c, h, w = x.shape
    box = lambda a: ndimage.uniform_filter(a, size=(1, 1, 3, 3), mode="constant") * 9  # noqa: E731
    detail = x - box(x) / box(np.ones_like(x))
    return detail.reshape(n, c, h // period, period, w // period, period).mean(axis=(2, 4))


def smooth_image(rng, h, w):
    """A natural-ish test image: smooth colour gradients plus a few edges and texture."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([0.5 + 0.4 * np.sin(6 * xx + rng.uniform(0, 6)),
                    0.5 + 0.4 * np.cos(5 * yy + rng.uniform(0, 6)),
                    0.5 + 0.3 * np.sin(4 * (xx + yy))], axis=-1)
    img[h // 3:h // 2, w // 4:w // 2] = rng.uniform(0, 1, size=3)
    img += 0.05 * rng.standard_normal((h, w, 3))
    return np.clip(img, 0, 1)


@pytest.fixture
def image_folder(tmp_path):
    """Six small PNGs (one too small for 64 px crops), deterministic content."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    sizes = [(80, 96), (72, 72), (96, 80), (70, 90), (88, 88), (40, 50)]
    for i, (h, w) in enumerate(sizes):
        path = folder / ("sub" if i % 2 else "") / f"img{i}.png"
        Image.fromarray((smooth_image(rng, h, w) * 255).astype(np.uint8)).save(path)
    return str(folder)


def save_png(path, h=20, w=24, seed=0, mode="RGB"):
    rng = np.random.default_rng(seed)
    arr = (smooth_image(rng, h, w) * 255).astype(np.uint8)
    Image.fromarray(arr).convert(mode).save(path)
    return str(path)


@pytest.fixture
def shards(image_folder, tmp_path):
    """x2 shards of 32 px crops from `image_folder`, 16 samples per shard."""
    from gluon_sr.data.shards import Recipe, build_shards

    out = tmp_path / "shards"
    build_shards([image_folder], str(out),
                 Recipe(scale=2, crop=32, crops_per_image=8, blur_sigma=0.5, shard_size=16),
                 progress=False)
    return str(out)


@pytest.fixture
def vgg_file():
    if not os.path.exists(VGG_FILE):
        pytest.skip(f"real VGG16 weights not found at {VGG_FILE} (../shared is absent)")
    return VGG_FILE


@pytest.fixture
def sr_bench():
    if not os.path.isdir(os.path.join(SR_BENCH, "Set5")):
        pytest.skip(f"benchmark images not found at {SR_BENCH} (../shared is absent)")
    return SR_BENCH


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(path, width, height):
    """A small PNG file whose header claims width x height (its pixel data is far too short)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b""))
    path.write_bytes(data)
    return str(path)


def run_script(script, *args, cwd=None, env=None):
    """Run one of the repository's scripts (or `-m module`) as a user would: (code, out, err)."""
    env = {**os.environ, "PYTHONPATH": REPO, **(env or {})}
    env.pop("GLUON_SR_DEBUG", None)
    command = [sys.executable, *(["-m", args[0]] if script == "-m" else [os.path.join(REPO, script)])]
    rest = args[1:] if script == "-m" else args
    proc = subprocess.run([*command, *map(str, rest)], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


def assert_one_line_error(code, err, *words):
    """Exit code 2 and exactly one line on stderr, `error: ...`, containing each word."""
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for word in words:
        assert word in lines[0], (word, err)


def random_gluon_model(name, scale=None, seed=0, **config):
    """A gluon-sr network with random weights (and non-trivial BN statistics), as an
    InferenceModel; `.imperative_net()` gives the Gluon network itself."""
    import mxnet as mx

    from gluon_sr.archs import get_model
    from gluon_sr.infer.loader import InferenceModel

    mx.random.seed(seed)                     # the same weights whatever ran before
    net = get_model(name, **({"scale": scale} if scale else {}), **config)
    net.initialize(mx.init.Xavier(magnitude=1.5))
    net(mx.nd.zeros((1, 3, 8, 8)))          # resolve deferred parameter shapes
    rng = np.random.default_rng(seed)
    for pname, p in net.collect_params().items():
        if pname.endswith("running_mean"):
            p.set_data(mx.nd.array(rng.normal(0, 0.1, p.shape)))
        elif pname.endswith("running_var"):
            p.set_data(mx.nd.array(rng.uniform(0.5, 2.0, p.shape)))
    return InferenceModel.from_gluon(net)


@pytest.fixture
def tiny_decoder(tmp_path):
    """A saved AdaIN decoder at width 0.125, random weights (new ones each time: the choices
    `auto` caches are keyed by the weights)."""
    import mxnet as mx

    from gluon_sr.archs import get_model
    from gluon_sr.model_store import save_model

    decoder = get_model("adain_decoder", width=0.125)
    decoder.initialize(mx.init.Xavier())
    decoder(mx.nd.zeros((1, 512, 2, 2)))
    return save_model(decoder, str(tmp_path / "params"), "tiny_adain", {"task": "adain"})
