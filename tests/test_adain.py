"""AdaIN: the layer, the decoder, and training (the decoder learns; the encoder stays put)."""
import json
import os

import mxnet as mx
import numpy as np
import pytest
from mxnet import nd
from PIL import Image

from conftest import assert_one_line_error, phase_detail_means, run_script, save_png

from gluon_sr.archs import get_model
from gluon_sr.archs.adain import adain, channel_mean_std
from gluon_sr.train.plotting import read_log
from gluon_sr.train.run import resolve_config, train
from gluon_sr.utils.errors import GluonSRError


def test_adain_output_takes_the_style_statistics_and_keeps_the_content_pattern():
    rng = np.random.default_rng(0)
    content = nd.array(rng.normal(3, 2, (2, 5, 6, 7)))
    style = nd.array(rng.normal(-1, 0.5, (2, 5, 4, 4)))
    mean_s, std_s = channel_mean_std(nd, style)
    out = adain(nd, content, mean_s, std_s)
    mean_o, std_o = channel_mean_std(nd, out)
    np.testing.assert_allclose(mean_o.asnumpy(), mean_s.asnumpy(), atol=1e-4)
    np.testing.assert_allclose(std_o.asnumpy(), std_s.asnumpy(), rtol=1e-3)
    # Per channel, the output is an increasing affine map of the content.
    c, o = content.asnumpy()[0, 0].ravel(), out.asnumpy()[0, 0].ravel()
    assert np.corrcoef(c, o)[0, 1] > 0.9999
    np.testing.assert_allclose(std_s.asnumpy()[..., 0, 0],
                               np.sqrt(style.asnumpy().var(axis=(2, 3)) + 1e-5), rtol=1e-4)


def test_decoder_mirrors_the_encoder_to_relu4_1():
    dec = get_model("adain_decoder")
    dec.initialize()
    dec.hybridize()
    assert dec(nd.zeros((2, 512, 4, 5))).shape == (2, 3, 32, 40)
    convs = [(c.weight.shape[1], c.weight.shape[0]) for c in dec.convs]
    assert convs == [(512, 256), (256, 256), (256, 256), (256, 128), (128, 128), (128, 64),
                     (64, 64), (64, 3)]
    assert dec.input_scale.grad_req == "null"


def test_a_few_steps_lower_the_loss_and_only_the_decoder_is_saved(tmp_path, image_folder,
                                                                   vgg_file):
    cfg = resolve_config(dict(
        task="adain", name="a", content=(image_folder,), styles=image_folder, load_size=64,
        image_size=32, model_config=dict(width=0.125), steps=40, batch_size=4, lr=2e-3,
        log_every=10, checkpoint_every=20, val_every=40, vgg=vgg_file,
        val_dir=image_folder, val_style_dir=image_folder, val_images=2,
        run_dir=str(tmp_path / "run"), out_dir=str(tmp_path / "params"), progress=False))
    json_path = train(cfg)
    losses = [r["loss"] for r in read_log(str(tmp_path / "run" / "log.jsonl")) if "loss" in r]
    assert losses[-1] < 0.8 * losses[0]
    meta = json.load(open(json_path))
    assert meta["task"] == "adain" and meta["arch"] == "adain_decoder"
    assert os.path.exists(tmp_path / "run" / "preview_0000040.png")
    params = mx.nd.load(json_path.replace(".json", ".params"))
    assert not any("features" in k for k in params)          # no VGG weights in the model
    scale = [v for k, v in params.items() if k.endswith("input_scale")][0].asnumpy()
    assert scale.shape == (1, 512, 1, 1) and np.all(scale > 0) and np.all(np.isfinite(scale))
    assert not np.allclose(scale, 1.0)
    assert np.allclose(scale, scale.ravel()[0])       # one scale per layer (docs/adain.md)


def _one_term_settings(tmp_path, image_folder, vgg_file, steps, **weight):
    """A tiny AdaIN run whose loss is the one term `weight` names (content and style off)."""
    return dict(
        task="adain", name="a", content=(image_folder,), styles=image_folder, load_size=64,
        image_size=32, model_config=dict(width=0.125), steps=steps, batch_size=4, lr=2e-3,
        log_every=10, checkpoint_every=steps, val_every=steps, vgg=vgg_file, feat_weight=0.0,
        style_weight=0.0, val_dir=image_folder, val_style_dir=image_folder, val_images=2,
        run_dir=str(tmp_path / "run"), out_dir=str(tmp_path / "params"), progress=False,
        **weight)


def test_identity_loss_teaches_the_decoder_to_give_the_photo_back(tmp_path, image_folder,
                                                                  vgg_file):
    from gluon_sr.train.adain_task import AdaINTask

    settings = _one_term_settings(tmp_path, image_folder, vgg_file, 30, identity_weight=3.0)
    json_path = train(resolve_config(settings))
    log = read_log(str(tmp_path / "run" / "log.jsonl"))
    identity = [r["identity"] for r in log if "identity" in r]
    assert identity[-1] < 0.8 * identity[0]
    assert [r["val_identity"] for r in log if "val_identity" in r]
    # The term is the weight x the mean absolute difference of photo and decoded own features.
    task = AdaINTask(resolve_config(settings), [mx.cpu()])
    net = get_model("adain_decoder", width=0.125)
    net.load_parameters(json_path.replace(".json", ".params"))
    photo = nd.array(np.random.default_rng(1).uniform(0, 1, (2, 3, 32, 32)))
    own = task.encoder(photo)["relu4_1"]
    decoded = net(own).asnumpy()
    np.testing.assert_allclose(task.identity(net, photo, own).asnumpy(),
                               np.abs(decoded - photo.asnumpy()).mean(axis=(1, 2, 3)), rtol=1e-5)
    with pytest.raises(GluonSRError, match="loss weights"):
        train(resolve_config({**settings, "identity_weight": -1.0}))


def test_gram_term_is_the_relative_gram_distance_and_training_lowers_it(tmp_path, image_folder,
                                                                        vgg_file):
    from gluon_sr.archs.vgg import load_loss_vgg
    from gluon_sr.losses import STYLE_LAYERS, gram_matrix
    from gluon_sr.train.adain_task import AdaINTask

    settings = _one_term_settings(tmp_path, image_folder, vgg_file, 60, gram_weight=5.0)
    train(resolve_config(settings))
    log = read_log(str(tmp_path / "run" / "log.jsonl"))
    gram = [r["gram"] for r in log if "gram" in r]
    assert gram[-1] < 0.8 * gram[0]
    assert [r["val_gram"] for r in log if "val_gram" in r]
    # The term is the weight x the benches' style loss over the painting's Gram energy, per
    # layer: the squared Gram distance (mean over C x C) / the mean squared painting Gram.
    task = AdaINTask(resolve_config(settings), [mx.cpu()])
    rng = np.random.default_rng(2)
    out, painting = (nd.array(rng.uniform(0, 1, (2, 3, 32, 32))) for _ in range(2))
    vgg, _ = load_loss_vgg(STYLE_LAYERS, weights=vgg_file)
    f_out, f_painting = vgg(out), vgg(painting)
    expected = 0
    for t in STYLE_LAYERS:
        g_out, g_painting = (gram_matrix(nd, f[t]).asnumpy() for f in (f_out, f_painting))
        expected += 5.0 * (((g_out - g_painting) ** 2).mean(axis=(1, 2))
                           / (g_painting ** 2).mean(axis=(1, 2)))
    own = task.encoder(out)["relu4_1"]
    _, target, style = task.targets(own, painting)
    _, parts = task.loss_fn(out, target, style)
    np.testing.assert_allclose(parts["gram"].asnumpy(), expected, rtol=1e-4)
    with pytest.raises(GluonSRError, match="loss weights"):
        train(resolve_config({**settings, "gram_weight": -1.0}))


def _transfer(seed=0, width=0.125):
    """An AdaINTransfer with random weights: a VGG16 to relu4_1 and a small decoder."""
    from gluon_sr.archs.vgg import LossVGG16
    from gluon_sr.infer.adain import AdaINTransfer

    mx.random.seed(seed)
    encoder = LossVGG16(("relu4_1",))
    encoder.initialize(mx.init.Xavier(magnitude=2))
    decoder = get_model("adain_decoder", width=width)
    decoder.initialize(mx.init.Xavier())
    return AdaINTransfer.from_gluon(encoder, decoder)


def _images(rng, *shapes):
    from conftest import smooth_image

    return [smooth_image(rng, h, w).astype(np.float32) for h, w in shapes]


def test_tiled_encoding_and_decoding_equal_the_whole_image():
    transfer = _transfer()
    content, painting = _images(np.random.default_rng(1), (150, 190), (64, 80))
    whole = transfer(content, [painting], tile=0)
    tiled = transfer(content, [painting], tile=48)          # 4 x 4 tiles, uneven last ones
    assert whole.shape == content.shape
    np.testing.assert_allclose(tiled, whole, atol=2e-5)
    feats_whole = transfer.encode(content[:144, :184])
    np.testing.assert_allclose(transfer.encode(content[:144, :184], tile=40), feats_whole,
                               rtol=1e-4, atol=1e-4 * np.abs(feats_whole).max())


def test_a_painting_is_encoded_once_for_many_photos():
    transfer = _transfer()
    content, other, painting = _images(np.random.default_rng(4), (64, 64), (72, 56), (48, 56))
    encoded = []
    encode = transfer._encode
    transfer._encode = lambda chw: encoded.append(chw.shape) or encode(chw)
    first = transfer(content, [painting])
    transfer(other, [painting])
    assert encoded.count((3, 48, 56)) == 1 and len(encoded) == 3      # painting once, photos
    transfer.style_cache.clear()                      # encoded afresh: the same picture
    np.testing.assert_array_equal(transfer(content, [painting]), first)
    # Colour preservation gives the painting each photo's colours: a new painting each time.
    transfer(content, [painting], preserve_color=True)
    transfer(other, [painting], preserve_color=True)
    assert encoded.count((3, 48, 56)) == 4


def test_alpha_0_is_the_photo_through_encoder_and_decoder_in_a_reflected_frame():
    from gluon_sr.infer.adain import BORDER

    transfer = _transfer()
    content, painting = _images(np.random.default_rng(2), (64, 72), (48, 48))
    out = transfer(content, [painting], alpha=0.0)
    framed = np.pad(content, ((BORDER, BORDER), (BORDER, BORDER), (0, 0)), mode="reflect")
    reconstruction = np.clip(transfer.decode(transfer.encode(framed)), 0, 1)
    np.testing.assert_allclose(out, reconstruction[BORDER:-BORDER, BORDER:-BORDER], atol=1e-6)
    assert not np.allclose(transfer(content, [painting], alpha=1.0), out, atol=1e-3)


def test_style_weights_and_masks_select_the_paintings():
    transfer = _transfer()
    content, first, second = _images(np.random.default_rng(3), (64, 64), (48, 56), (56, 48))
    first = first * 0.5
    only_first = transfer(content, [first])
    np.testing.assert_allclose(transfer(content, [first, second], weights=[1.0, 0.0]),
                               only_first, atol=1e-5)
    halfway = transfer(content, [first, second], weights=[0.5, 0.5])
    assert not np.allclose(halfway, only_first, atol=1e-3)
    ones, zeros = np.ones((10, 10), np.float32), np.zeros((10, 10), np.float32)
    np.testing.assert_allclose(transfer(content, [first, second], mask=ones), only_first,
                               atol=1e-5)
    np.testing.assert_allclose(transfer(content, [first, second], mask=zeros),
                               transfer(content, [second]), atol=1e-5)
    # One painting with a mask: the outside keeps the photo (as alpha 0 gives it).
    np.testing.assert_allclose(transfer(content, [first], mask=zeros),
                               transfer(content, [first], alpha=0.0), atol=1e-5)
    # Left half styled, right half the photo: the halves follow the mask away from the seam.
    left = np.zeros((64, 64), np.float32)
    left[:, :32] = 1
    split = transfer(content, [first], mask=left)
    photo = transfer(content, [first], alpha=0.0)
    assert np.abs(split[:, 48:] - photo[:, 48:]).max() < np.abs(split[:, :16] - photo[:, :16]).max()


def test_colour_matching_gives_the_target_mean_and_covariance():
    from gluon_sr.infer.adain import match_colour

    rng = np.random.default_rng(4)
    source = np.clip(rng.normal([0.5, 0.4, 0.45], 0.05, (40, 50, 3)), 0, 1).astype(np.float32)
    mix = np.array([[1.0, 0.3, 0.0], [0.0, 0.8, 0.2], [0.1, 0.0, 0.6]])
    target = np.clip(0.2 + rng.uniform(0, 0.5, (30, 30, 3)) @ mix.T * 0.8, 0, 1)
    out = match_colour(source, target)
    flat_o, flat_t = out.reshape(-1, 3), target.reshape(-1, 3)
    np.testing.assert_allclose(flat_o.mean(0), flat_t.mean(0), atol=1e-4)
    np.testing.assert_allclose(np.cov(flat_o, rowvar=False), np.cov(flat_t, rowvar=False),
                               atol=1e-4)


def test_infer_style_image_runs_adain_with_its_controls(tmp_path, tiny_decoder, vgg_file):
    photo = save_png(tmp_path / "photo.png", 40, 52, seed=1)
    first = save_png(tmp_path / "first.png", 30, 36, seed=2)
    second = save_png(tmp_path / "second.png", 36, 30, seed=3)
    mask = save_png(tmp_path / "mask.png", 20, 26, seed=4, mode="L")
    common = ("--model", tiny_decoder, "--vgg", vgg_file)
    code, out, err = run_script("infer.py", photo, "--style-image", first, *common)
    assert code == 0, err
    assert np.asarray(Image.open(tmp_path / "photo_first.png")).shape == (40, 52, 3)
    code, out, err = run_script("infer.py", photo, "--style-image", first, "--style-image",
                                second, "--style-weights", "1,3", "--alpha", "0.5",
                                "--preserve-color", "--tile", "16", "--size", "64", *common)
    assert code == 0, err
    assert np.asarray(Image.open(tmp_path / "photo_first_second.png")).shape == (49, 64, 3)
    code, out, err = run_script("infer.py", photo, "--style-image", first, "--style-image",
                                second, "--mask", mask, "-o", tmp_path / "masked.png", *common)
    assert code == 0, err
    assert os.path.exists(tmp_path / "masked.png")


@pytest.mark.parametrize("extra,words", [
    (("--style-weights", "1"), ("--style-weights gives 1 weights for 2",)),
    (("--mask", "MASK", "--style-weights", "1,2"), ("--style-weights mixes",)),
    (("--optimize",), ("--optimize needs one --style-image",)),
    (("--style", "mosaic"), ("exclude each other",)),
    (("--interp", "0.5"), ("--interp does not apply when stylising with --style-image",)),
    (("--backend", "onnxruntime"), ("AdaIN runs on mxnet", "openvino", "not onnxruntime")),
    (("--backend", "mxnet", "--precision", "int8"), ("AdaIN runs on mxnet (fp32)", "int8")),
    (("--alpha", "2"), ("--alpha", "between 0 and 1")),
    (("--style-weights", "a,b"), ("--style-weights", "numbers")),
])
def test_infer_style_image_refuses_bad_combinations(tmp_path, tiny_decoder, extra, words):
    photo = save_png(tmp_path / "photo.png", 24, 24, seed=1)
    first = save_png(tmp_path / "first.png", 24, 24, seed=2)
    extra = [str(tmp_path / "mask.png") if e == "MASK" else e for e in extra]
    save_png(tmp_path / "mask.png", 24, 24, seed=3, mode="L")
    code, _, err = run_script("infer.py", photo, "--style-image", first, "--style-image", first,
                              "--model", tiny_decoder, *extra)
    assert_one_line_error(code, err, *words)
    assert sorted(os.listdir(tmp_path)) == ["first.png", "mask.png", "params", "photo.png"]


def test_bench_reports_stylisation_gatys_and_speed(tmp_path, image_folder, tiny_decoder, vgg_file):
    from gluon_sr.evaluation import adain_bench, gallery
    from gluon_sr.evaluation.metrics import periodic_texture
    from gluon_sr.infer.stylize import working_copy
    from gluon_sr.utils.imageio import read_image

    paintings = tmp_path / "paintings"
    paintings.mkdir()
    for seed in (5, 6):
        save_png(paintings / f"p{seed}.png", 40, 48, seed=seed)
    out = tmp_path / "bench.json"
    assert adain_bench.main(["--model", tiny_decoder, "--photos", image_folder, "--paintings",
                             str(paintings), "--size", "48", "--gatys-pairs", "2",
                             "--gatys-size", "32", "--gatys-iters", "3", "--speed-side", "32",
                             "--vgg", vgg_file, "--write-metrics", "--out", str(out)]) == 0
    report = json.load(open(out))
    recorded = json.load(open(tiny_decoder))["metrics"]["held_out"]
    assert recorded["style_ratio_of_means"] == report["summary"]["style_ratio_of_means"]
    assert report["photos"] == ["img0.png", "img2.png", "img4.png"]      # top level only
    assert len(report["pairs"]) == 6 and len(report["gatys"]) == 2
    rows = report["pairs"]
    s = report["summary"]
    assert s["style_ratio_of_means"] == pytest.approx(
        np.mean([r["style_loss"] for r in rows]) / np.mean([r["photo_style_loss"] for r in rows]))
    for row in report["gatys"]:                 # a run stops where it reaches AdaIN's loss
        reached = row["gatys_iters_to_adain_style"]
        assert row["gatys_iters_run"] == (reached or 3)
    assert report["speed"]["side"] == 32 and report["speed"]["ms_per_mp"] > 0
    assert [r["photo"] for r in report["reconstruction"]] == report["photos"]
    assert s["alpha0_psnr_mean"] == pytest.approx(
        np.mean([r["psnr"] for r in report["reconstruction"]]))
    # The 8 px periodic texture: the photo's, as scored on its working copy, beside the output's.
    photo = working_copy(read_image(os.path.join(image_folder, "img0.png")).rgb, 48)
    assert rows[0]["photo_grid_8px"] == pytest.approx(periodic_texture(photo, 8))
    assert s["mean_grid_8px"] == pytest.approx(np.mean([r["grid_8px"] for r in rows]))
    grid = tmp_path / "grid.png"
    assert gallery.main(["--adain", tiny_decoder, "--paintings", *map(str, paintings.iterdir()),
                         "--content", os.path.join(image_folder, "img0.png"), "--size", "40",
                         "--vgg", vgg_file, "--out", str(grid)]) == 0
    width, height = Image.open(grid).size      # (1 + 2 paintings) x (1 + 1 photo) cells
    assert abs(width - 720) <= 1 and abs(height - 480) <= 1


def test_bench_at_an_alpha_scores_infer_alpha_outputs(tmp_path, image_folder, tiny_decoder,
                                                     vgg_file):
    from gluon_sr.evaluation import adain_bench
    from gluon_sr.utils.errors import GluonSRError

    paintings = tmp_path / "paintings"
    paintings.mkdir()
    for seed in (5, 6):
        save_png(paintings / f"p{seed}.png", 40, 48, seed=seed)
    common = ["--model", tiny_decoder, "--photos", image_folder, "--paintings", str(paintings),
              "--size", "48", "--gatys-pairs", "0", "--speed-side", "32", "--vgg", vgg_file]
    out = tmp_path / "bench.json"
    assert adain_bench.main([*common, "--alpha", "0", "--out", str(out)]) == 0
    report = json.load(open(out))
    assert report["alpha"] == 0.0
    # At alpha 0 the painting takes no part: each photo's output, so its content loss, is the
    # same whichever painting it is paired with.
    by_photo = {}
    for row in report["pairs"]:
        by_photo.setdefault(row["photo"], []).append(row["content_loss"])
    assert all(len(losses) == 2 and losses[0] == pytest.approx(losses[1], rel=1e-6)
               for losses in by_photo.values())
    with pytest.raises(GluonSRError, match="alpha 1 only"):
        adain_bench.main([*common, "--alpha", "0.5", "--write-metrics", "--out", str(out)])
    with pytest.raises(GluonSRError, match="within 0..1"):
        adain_bench.main([*common, "--alpha", "1.5", "--out", str(out)])


def test_onnx_export_of_encoder_and_decoder_matches_mxnet(tmp_path, tiny_decoder, vgg_file):
    ov = pytest.importorskip("openvino", reason="OpenVINO runs the ONNX files here")
    from gluon_sr.deploy.export import export
    from gluon_sr.infer.loader import load_adain

    encoder_path, decoder_path = export(tiny_decoder, str(tmp_path / "exports"), vgg_file)
    transfer, _ = load_adain(tiny_decoder, vgg_file)
    core = ov.Core()
    # OpenVINO's default on a CPU with native bf16 is bf16: ask for f32, as the backend does.
    f32 = {"INFERENCE_PRECISION_HINT": "f32"}
    rng = np.random.default_rng(7)
    image = rng.uniform(0, 1, (1, 3, 40, 56)).astype(np.float32)       # not the export shape
    features = transfer.encode(image[0].transpose(1, 2, 0))
    exported = core.compile_model(encoder_path, "CPU", f32)(image)[0]
    np.testing.assert_allclose(exported[0], features, rtol=1e-4, atol=1e-4 * np.abs(features).max())
    decoded = core.compile_model(decoder_path, "CPU", f32)(features[None])[0]
    reference = transfer.decode(features)
    np.testing.assert_allclose(decoded[0].transpose(1, 2, 0), reference,
                               atol=1e-5 * np.abs(reference).max())


def test_openvino_runs_the_whole_transfer_like_mxnet_from_a_cached_export(
        tmp_path, tiny_decoder, vgg_file, monkeypatch):
    pytest.importorskip("openvino", reason="the backend under test")
    from gluon_sr.deploy import export
    from gluon_sr.infer.loader import load_adain

    rng = np.random.default_rng(8)
    photo, painting = (rng.uniform(0, 1, shape).astype(np.float32)
                       for shape in ((44, 60, 3), (40, 48, 3)))
    reference, _ = load_adain(tiny_decoder, vgg_file)
    fast, _ = load_adain(tiny_decoder, vgg_file, backend="openvino")
    assert (fast.backend, fast.precision, fast.name) == ("openvino", "fp32", tiny_decoder)
    expected = reference(photo, [painting], alpha=0.7)

    def assert_same_picture(out, ref):
        # A channel quiet inside so small a photo but active in its reflected frame is divided
        # there by its near-zero spread: the backends' rounding, so magnified, reaches a few
        # edge pixels through the decoder (docs/adain.md, the controls). All else agrees.
        close = np.abs(out - ref) <= 1e-4
        assert close.mean() >= 0.999 and np.abs(out - ref).max() < 0.1

    assert_same_picture(fast(photo, [painting], alpha=0.7), expected)
    assert_same_picture(fast(photo, [painting], tile=24), reference(photo, [painting]))
    # A second load compiles the cached export; a new VGG16 file would make a new one.
    monkeypatch.setattr(export, "export_adain", lambda *a: pytest.fail("exported again"))
    again, _ = load_adain(tiny_decoder, vgg_file, backend="openvino")
    assert_same_picture(again(photo, [painting], alpha=0.7), expected)


def test_openvino_missing_is_said_before_anything_is_exported(tiny_decoder, vgg_file,
                                                              monkeypatch):
    from gluon_sr.deploy import auto, openvino_backend
    from gluon_sr.infer.loader import load_adain

    monkeypatch.setattr(openvino_backend, "openvino_available", lambda: False)
    monkeypatch.setattr(auto, "cached_adain_export", lambda *a: pytest.fail("exported"))
    with pytest.raises(GluonSRError, match="needs OpenVINO"):
        load_adain(tiny_decoder, vgg_file, backend="openvino")


def test_auto_picks_the_faster_backend_once_and_infer_says_which(
        tmp_path, tiny_decoder, vgg_file, monkeypatch):
    pytest.importorskip("openvino", reason="the second candidate")
    from gluon_sr.deploy import auto
    from gluon_sr.infer.loader import load_adain

    calls = []
    monkeypatch.setattr(auto, "_seconds", lambda t: calls.append(t.backend) or
                        {"mxnet": 3.0, "openvino": 1.0}[t.backend])
    transfer, _ = load_adain(tiny_decoder, vgg_file, backend="auto", precision="auto")
    assert transfer.backend == "openvino" and "3.00x the speed of mxnet fp32" in transfer.note
    assert sorted(calls) == ["mxnet", "openvino"]
    # The photo redrawn from its own features: what the timing runs and bf16 is checked on.
    x = np.random.default_rng(9).uniform(0, 1, (1, 3, 32, 40)).astype(np.float32)
    mxnet_path, _ = load_adain(tiny_decoder, vgg_file)
    redrawn = mxnet_path.forward(x)
    assert redrawn.shape == (1, 3, 32, 40)
    np.testing.assert_allclose(transfer.forward(x), redrawn, atol=1e-5 * np.abs(redrawn).max())
    # infer.py (another process) reads the cached choice and reports it.
    photo = save_png(tmp_path / "photo.png", 40, 52, seed=1)
    painting = save_png(tmp_path / "painting.png", 30, 36, seed=2)
    code, out, err = run_script("infer.py", photo, "--style-image", painting, "--model",
                                tiny_decoder, "--vgg", vgg_file)
    assert code == 0, err
    assert f"{tiny_decoder}: openvino fp32, measured 3.00x" in out


def test_grid_term_is_the_squared_period_8_detail_means_and_training_lowers_it(
        tmp_path, image_folder, vgg_file):
    from gluon_sr.archs.adain import GRID_PERIOD
    from gluon_sr.train.adain_task import AdaINTask

    settings = _one_term_settings(tmp_path, image_folder, vgg_file, 40, grid_weight=1e3)
    train(resolve_config(settings))
    grid = [r["grid"] for r in read_log(str(tmp_path / "run" / "log.jsonl")) if "grid" in r]
    assert grid[-1] < 0.5 * grid[0]
    task = AdaINTask(resolve_config(settings), [mx.cpu()])
    rng = np.random.default_rng(3)
    out, painting = (nd.array(rng.uniform(0, 1, (2, 3, 32, 32))) for _ in range(2))
    y, x = np.mgrid[:32, :32]
    out = out + nd.array(((y % 8 == 3) & (x % 8 == 5)) * 0.3)        # a dotted 8 px grid
    _, target, style = task.targets(task.encoder(out)["relu4_1"], painting)
    _, parts = task.loss_fn(out, target, style)
    expected = 1e3 * (phase_detail_means(out.asnumpy(), GRID_PERIOD) ** 2).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(parts["grid"].asnumpy(), expected, rtol=1e-4)
    assert expected.min() > 1e-3 * 1e3        # the dots, not the noise, make the term
