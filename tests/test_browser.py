"""The web app in a real browser: headless Chromium (Debian's package) driven by Playwright.

Starts `python -m gluon_sr.serve` on a free local port, uploads Set5's butterfly, upscales it
x4, checks the result's size and the download, then stylises it with a shipped style.
Screenshots go to $GLUON_SR_SCREENSHOTS (default: the test's temporary folder).
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from PIL import Image

from conftest import REPO, SR_BENCH, save_png

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def server():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    proc = subprocess.Popen([sys.executable, "-m", "gluon_sr.serve", "--port", str(port),
                             "--backend", "mxnet"], cwd=REPO, env={**os.environ,
                                                                   "PYTHONPATH": REPO},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"server exited: {proc.stdout.read()}")
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def page(server):
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (requirements-dev.txt)")
    if not CHROMIUM:
        pytest.skip("no Chromium: apt-get install chromium")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 900}, accept_downloads=True)
        page.goto(server)
        page.wait_for_selector("#model option", state="attached")
        yield page
        browser.close()


@pytest.fixture
def shots(tmp_path):
    folder = os.environ.get("GLUON_SR_SCREENSHOTS") or str(tmp_path)
    os.makedirs(folder, exist_ok=True)
    return folder


def butterfly(tmp_path):
    path = os.path.join(SR_BENCH, "Set5", "butterfly.png")
    return path if os.path.exists(path) else save_png(tmp_path / "butterfly.png", h=64, w=64)


def test_upscale_in_the_browser(page, tmp_path, shots):
    src = butterfly(tmp_path)
    width, height = Image.open(src).size
    page.select_option("#job", "upscale")
    page.select_option("#model", "sr_x4")
    page.set_input_files("#files", src)
    page.click("#go")
    page.wait_for_selector(".result img.after", timeout=120_000)
    page.wait_for_function("document.querySelector('.result img.after').naturalWidth > 0")
    size = page.eval_on_selector(".result img.after", "i => [i.naturalWidth, i.naturalHeight]")
    assert size == [4 * width, 4 * height]
    page.fill(".compare input", "30")
    page.screenshot(path=os.path.join(shots, "upscale.png"), full_page=True)
    with page.expect_download() as info:
        page.click(".result a.download")
    saved = tmp_path / "download.png"
    info.value.save_as(saved)
    assert Image.open(saved).size == (4 * width, 4 * height)
    assert "Done: 1 image(s)." in page.inner_text("#status")


def test_stylise_in_the_browser(page, tmp_path, shots):
    page.select_option("#job", "stylize")
    page.select_option("#style", "mosaic")
    page.set_input_files("#files", butterfly(tmp_path))
    before = page.locator(".result").count()
    page.click("#go")
    page.wait_for_function(f"document.querySelectorAll('.result').length > {before}",
                           timeout=120_000)
    page.screenshot(path=os.path.join(shots, "stylise.png"), full_page=True)
    assert "mosaic" in page.get_attribute(".result a.download", "download")


def test_a_bad_file_is_reported_on_the_page(page, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    page.select_option("#job", "upscale")
    page.set_input_files("#files", str(bad))
    page.click("#go")
    page.wait_for_selector("#status.error", timeout=30_000)
    assert "bad.png" in page.inner_text("#status") and "image" in page.inner_text("#status")
