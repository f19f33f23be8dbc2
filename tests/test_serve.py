"""The HTTP API with Flask's test client: every endpoint, every bad request, a full queue,
concurrent requests, and a burst of good and bad ones."""
import io
import json
import threading

import numpy as np
import pytest
from PIL import Image

from conftest import png_header_only, save_png
from gluon_sr.serve.app import create_app

flask = pytest.importorskip("flask")


@pytest.fixture
def client():
    app = create_app(max_upload_mb=2, max_pixels=4_000_000, capacity=2, backend="mxnet")
    yield app.test_client()
    app.extensions["gluon_sr_runner"].shutdown()


def png_bytes(h=20, w=24, seed=0, mode="RGB"):
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).convert(mode).save(buffer, "PNG")
    return buffer.getvalue()


def post(client, endpoint, data, options=None, name="a.png"):
    form = {"image": (io.BytesIO(data), name)}
    if options is not None:
        form["options"] = options if isinstance(options, str) else json.dumps(options)
    return client.post(endpoint, data=form, content_type="multipart/form-data")


def test_health_and_model_list(client):
    assert client.get("/healthz").get_json() == {"ok": True}
    models = {m["name"]: m for m in client.get("/api/models").get_json()["models"]}
    assert models["sr_x4"]["task"] == "sr" and models["sr_x4"]["scale"] == 4
    assert models["mosaic"]["task"] == "style" and models["mosaic"]["style_image"]
    page = client.get("/")
    assert page.status_code == 200 and b"/api/models" in page.data


def test_upscale_and_stylize_return_pngs(client):
    reply = post(client, "/api/upscale", png_bytes(), {"model": "sr_x2"})
    assert reply.status_code == 200 and reply.mimetype == "image/png"
    assert Image.open(io.BytesIO(reply.data)).size == (48, 40)
    rgba = io.BytesIO()
    Image.new("RGBA", (24, 20), (200, 100, 50, 120)).save(rgba, "PNG")
    reply = post(client, "/api/stylize", rgba.getvalue(),
                 {"style": "mosaic", "strength": 0.5, "preserve_color": True})
    assert reply.status_code == 200
    out = Image.open(io.BytesIO(reply.data))
    assert out.mode == "RGBA" and out.size == (24, 20)
    assert np.asarray(out)[..., 3].min() == 120                      # alpha kept


@pytest.mark.parametrize("endpoint,data,options,status,words", [
    ("/api/upscale", b"not an image", {}, 400, "not an image"),
    ("/api/upscale", png_bytes()[:60], {}, 400, "image"),                 # truncated
    ("/api/upscale", None, {}, 413, "too large"),                          # header says huge
    ("/api/upscale", png_bytes(), {"model": "nope"}, 400, "model"),
    ("/api/upscale", png_bytes(), {"scale": 3}, 400, "unknown scale"),
    ("/api/upscale", png_bytes(), "{not json", 400, "not valid JSON"),
    ("/api/upscale", png_bytes(h=3, w=3), {}, 400, "too small"),
    ("/api/stylize", png_bytes(), {"style": "mosaic", "strength": 2}, 400, "strength"),
    ("/api/stylize", png_bytes(), {"style": "mosaic", "preserve_color": "yes"}, 400, "true or false"),
    ("/api/stylize", png_bytes(), {}, 400, "style is required"),
    ("/api/stylize", png_bytes(), {"style": "sr_x4"}, 400, "style"),
])
def test_bad_requests_get_a_json_error(client, tmp_path, endpoint, data, options, status, words):
    if data is None:
        data = open(png_header_only(tmp_path / "huge.png", 6000, 6000), "rb").read()
    reply = post(client, endpoint, data, options)
    assert reply.status_code == status, reply.data
    error = reply.get_json()["error"]
    assert words in error and "/tmp" not in error, error
    assert client.get("/healthz").status_code == 200                 # still serving


def test_other_bad_requests(client):
    assert client.post("/api/upscale", data={}).status_code == 400     # no image field
    big = post(client, "/api/upscale", b"\0" * (3 << 20))
    assert big.status_code == 413 and "larger than 2 MB" in big.get_json()["error"]
    assert client.get("/api/upscale").status_code == 405
    assert client.get("/nowhere").get_json()["error"]


def test_a_full_queue_answers_503_with_retry_after(client, monkeypatch):
    from gluon_sr.infer import upscale

    release, started = threading.Event(), threading.Semaphore(0)
    real = upscale.Upscaler.__call__

    def slow(self, image):
        started.release()
        release.wait(30)
        return real(self, image)
    monkeypatch.setattr(upscale.Upscaler, "__call__", slow)
    replies = []
    threads = [threading.Thread(target=lambda: replies.append(
        post(client, "/api/upscale", png_bytes(), {"model": "sr_x2"}).status_code))
        for _ in range(3)]                         # capacity 2 waiting + 1 running
    for t in threads:
        t.start()
    assert started.acquire(timeout=30)            # the first job is running
    full = post(client, "/api/upscale", png_bytes(), {"model": "sr_x2"})
    assert full.status_code == 503 and full.headers["Retry-After"] == "5"
    release.set()
    for t in threads:
        t.join(60)
    assert replies == [200, 200, 200]


def test_concurrent_requests_get_their_own_results(client):
    sizes = [(20 + i, 24 + 2 * i) for i in range(6)]
    results = {}

    def one(i, h, w):
        reply = post(client, "/api/upscale", png_bytes(h, w, seed=i), {"model": "sr_x2"})
        results[i] = Image.open(io.BytesIO(reply.data)).size
    threads = [threading.Thread(target=one, args=(i, h, w)) for i, (h, w) in enumerate(sizes)]
    client.application.extensions["gluon_sr_runner"].slots = threading.BoundedSemaphore(10)
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results == {i: (2 * w, 2 * h) for i, (h, w) in enumerate(sizes)}


@pytest.mark.slow
def test_a_burst_of_fifty_mixed_requests(client):
    client.application.extensions["gluon_sr_runner"].slots = threading.BoundedSemaphore(60)
    cases = []
    for i in range(50):
        kind = i % 5
        if kind == 0:
            cases.append((png_bytes(12, 10, seed=i), {"model": "sr_x2"}, 200, (20, 24)))
        elif kind == 1:
            cases.append((b"junk %d" % i, {}, 400, None))
        elif kind == 2:
            cases.append((png_bytes(12, 10, seed=i), {"model": "x"}, 400, None))
        elif kind == 3:
            cases.append((png_bytes(16, 16, seed=i), {"style": "mosaic", "size": 16}, 200,
                          (16, 16)))
        else:
            cases.append((png_bytes(12, 10, seed=i), {"model": "sr_x2", "denoise": "9"}, 400, None))
    answers = [None] * len(cases)

    def one(i, data, options):
        endpoint = "/api/stylize" if "style" in options else "/api/upscale"
        answers[i] = post(client, endpoint, data, options)
    threads = [threading.Thread(target=one, args=(i, d, o)) for i, (d, o, _, _) in enumerate(cases)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    for (data, options, status, size), reply in zip(cases, answers):
        assert reply.status_code == status, (options, reply.data[:200])
        if size:
            assert Image.open(io.BytesIO(reply.data)).size == size
    assert client.get("/healthz").status_code == 200


def test_files_are_named_by_the_server(tmp_path, client):
    src = save_png(tmp_path / "a.png")
    reply = post(client, "/api/upscale", open(src, "rb").read(), {"model": "sr_x2"},
                 name="../../etc/passwd")
    assert reply.status_code == 200
