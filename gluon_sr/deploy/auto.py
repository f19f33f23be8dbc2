"""`--backend auto`: the fastest inference path that keeps the model's quality, measured here.

Which path is fastest depends on the CPU and the network: OpenVINO runs the style networks
1.6x faster than MXNet on an AVX2 CPU and bf16 several times faster where the CPU has AMX,
while MXNet's oneDNN-fused graph wins for sr_x4 on the same AVX2 CPU. So the candidates are
timed once per model and machine (a fixed input, median of 3 after a warm-up) and the choice
is cached (CACHE_DIR/choices.json); the ONNX export OpenVINO needs is made on first use and
cached too, keyed by the params' sha256. Candidates: MXNet fp32 (the reference), OpenVINO f32
(same function, outputs equal to 1e-4), and the reduced precisions (MXNet int8, OpenVINO bf16
where the CPU has native bf16, OpenVINO int8 for the AdaIN decoder) for which the model's
sidecar records that they keep its quality: for SR, a PSNR change of at most 0.05 dB on Set5,
Set14 and BSD100 (`evaluate --backend B --precision P --write-metrics`); for a style network or
AdaIN, which have no ground truth, an output at 40 dB PSNR or more against its own fp32 picture
on every held-out photo (AdaIN: every held-out photo x painting;
`gluon_sr.evaluation.style_quality --write-metrics`). 40 dB is an RMS difference of 2.5 grey
levels of 255, about what a quality-95 JPEG of the picture differs by: not visible.

The AdaIN model (gluon_sr.infer.adain) is two networks, its VGG16 encoder and its decoder; it
is timed as one, on a photo redrawn from its own features, and both are exported.

bf16 runs only on CPUs with native bf16, which the machine that recorded the sidecars may not
have; without a record it is checked here, at first use, against MXNet fp32 on the bundled
example photos (see sr_self_psnr_needed), and the result cached with the timing.
"""
import logging
import os
import time

import numpy as np

from gluon_sr.utils.errors import GluonSRError
from gluon_sr.utils.fileio import atomic_write_json, read_json_if_exists, sha256_file
from gluon_sr.utils.paths import CACHE_DIR, EXPORT_DIR

logger = logging.getLogger(__name__)
CHOICES = os.path.join(CACHE_DIR, "choices.json")
MAX_PSNR_CHANGE_DB = 0.05
MIN_OUTPUT_PSNR_DB = 40.0
# A picture off by noise of PSNR q dB against the fp32 output moves a PSNR of p dB against
# ground truth by 10 log10(1 + 10^((p - q) / 10)); that stays within 0.05 dB for
# q >= p + 19.4 dB. p: the model's best recorded benchmark PSNR, else 38 dB (above any shipped).
SELF_PSNR_MARGIN_DB = float(10 * np.log10(1 / (10 ** (MAX_PSNR_CHANGE_DB / 10) - 1)))
DEFAULT_BEST_PSNR_DB = 38.0


def sr_self_psnr_needed(meta):
    """The PSNR against fp32's output an SR model's reduced precision needs (see above)."""
    recorded = [b.get("psnr") for b in meta.get("metrics", {}).get("benchmarks", {}).values()]
    best = max([p for p in recorded if isinstance(p, (int, float))], default=DEFAULT_BEST_PSNR_DB)
    return best + SELF_PSNR_MARGIN_DB


def cached_export(name, meta):
    """An ONNX export of model `name` whose description matches its params: exports/NAME.onnx
    when it does, else one made now in the cache."""
    digest = meta.get("params_sha256")
    shipped = os.path.join(EXPORT_DIR, os.path.basename(name) + ".onnx")
    if digest and os.path.exists(shipped) and _export_digest(shipped) == digest:
        return shipped
    path = os.path.join(CACHE_DIR, "onnx", f"{os.path.basename(name)}-{(digest or 'x')[:16]}.onnx")
    if not os.path.exists(path):
        from gluon_sr.deploy.export import export_onnx
        from gluon_sr.model_store import load_model

        os.makedirs(os.path.dirname(path), exist_ok=True)
        logger.info(f"exporting {name} to ONNX for OpenVINO (once): {path}")
        net, meta = load_model(name)
        export_onnx(net, meta, path)
    return path


def cached_adain_export(name, meta, vgg_weights=None):
    """(encoder, decoder) ONNX paths of AdaIN model `name` with these VGG16 weights (default
    $GLUON_SR_VGG16), exported once into the cache: the encoder carries the VGG16 weights, so
    the folder is keyed by both the decoder's and the weights file's sha256."""
    from gluon_sr.archs.vgg import ENV_WEIGHTS

    weights = vgg_weights or os.environ.get(ENV_WEIGHTS)
    vgg = sha256_file(weights)[:16] if weights and os.path.isfile(weights) else "modelzoo"
    base = os.path.splitext(os.path.basename(name))[0]
    folder = os.path.join(CACHE_DIR, "onnx",
                          f"{base}-{(meta.get('params_sha256') or 'x')[:16]}-vgg-{vgg}")
    paths = tuple(os.path.join(folder, f"{base}.{part}.onnx") for part in ("encoder", "decoder"))
    if not all(os.path.exists(p) for p in paths):
        from gluon_sr.deploy.export import export_adain

        os.makedirs(folder, exist_ok=True)
        logger.info(f"exporting {name} and its VGG16 encoder to ONNX for OpenVINO (once): "
                    f"{folder}")
        paths = tuple(export_adain(name, folder, vgg_weights))
    return paths


def _export_digest(path):
    from gluon_sr.deploy.openvino_backend import OpenVinoModel

    try:
        return OpenVinoModel(path).meta.get("params_sha256")
    except GluonSRError:
        return None


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name")), "cpu")
    except OSError:
        return "cpu"


def _seconds(model):
    side = 128 if model.task == "sr" else 256
    x = np.random.default_rng(0).uniform(0, 1, (1, 3, side, side)).astype(np.float32)
    model.forward(x)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        model.forward(x)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def candidates(meta):
    """[(backend, precision)] that keep the model's quality on this machine."""
    from gluon_sr.deploy.openvino_backend import native_bf16, openvino_available

    found = [("mxnet", "fp32")]
    if _recorded_quality(meta, "mxnet_int8"):
        found.append(("mxnet", "int8"))
    if openvino_available():
        found.append(("openvino", "fp32"))
        if native_bf16() and _recorded_quality(meta, "openvino_bf16") is not False:
            found.append(("openvino", "bf16"))
        if _recorded_quality(meta, "openvino_int8"):      # AdaIN's calibrated decoder
            found.append(("openvino", "int8"))
    return found


def _recorded_quality(meta, path):
    """True / False: the sidecar's record of `path` keeps / loses quality; None: no record."""
    recorded = meta.get("deployment", {}).get(path, {})
    if "max_psnr_change_db" in recorded:                    # SR: against ground truth
        return abs(recorded["max_psnr_change_db"]) <= MAX_PSNR_CHANGE_DB
    if "min_output_psnr_db" in recorded:                    # style: against its fp32 self
        return recorded["min_output_psnr_db"] >= MIN_OUTPUT_PSNR_DB
    return None


def self_psnr(reference, model):
    """PSNR (dB) of `model`'s output against `reference`'s, worst of the bundled example photos
    (the convention of the style networks' recorded guard)."""
    from gluon_sr.deploy.precision import example_images
    from gluon_sr.evaluation.metrics import output_psnr

    align = reference.align
    worst = []
    for img in example_images():
        h, w = img.shape[0] // align * align, img.shape[1] // align * align
        x = np.ascontiguousarray(img[:h, :w].transpose(2, 0, 1)[None], dtype=np.float32)
        worst.append(output_psnr(*(np.clip(m.forward(x), 0, 1) for m in (reference, model))))
    if not worst:
        raise GluonSRError("no example photos to check a reduced precision on")
    return min(worst)


def load_fastest(name, load):
    """The fastest of the candidates for model `name`, as an InferenceModel, and a note saying
    which it is. `load(name, backend, precision)` loads one candidate."""
    from gluon_sr.model_store import load_model_description

    meta = load_model_description(name)
    options = candidates(meta)
    if len(options) == 1:
        return load(name, "mxnet", "fp32"), "mxnet fp32 (OpenVINO is not installed)"
    key = "|".join([meta.get("params_sha256", name), _cpu_name(),
                    *(f"{b}-{p}" for b, p in options)])
    choices = read_json_if_exists(CHOICES, "cache of measured choices") or {}
    if key in choices:
        backend, precision = choices[key]["backend"], choices[key]["precision"]
        return load(name, backend, precision), choices[key]["note"]
    reference = load(name, "mxnet", "fp32")    # a broken model file fails here, by name
    timed = {("mxnet", "fp32"): (_seconds(reference), reference)}
    checked = {}
    for backend, precision in options[1:]:
        try:
            model = load(name, backend, precision)
            unrecorded = _recorded_quality(meta, f"{backend}_{precision}") is None
            if precision != "fp32" and unrecorded:
                needed = (sr_self_psnr_needed(meta) if reference.task == "sr"
                          else MIN_OUTPUT_PSNR_DB)
                checked[f"{backend} {precision}"] = psnr = round(self_psnr(reference, model), 2)
                if psnr < needed:
                    raise GluonSRError(f"its output is {psnr:.1f} dB from fp32's on the example "
                                       f"photos (needs {needed:.1f})")
        except GluonSRError as e:
            logger.warning(f"{backend} {precision} left out: {e}")
            continue
        timed[(backend, precision)] = (_seconds(model), model)
    (backend, precision), (best, model) = min(timed.items(), key=lambda kv: kv[1][0])
    note = (f"{backend} {precision}, measured {timed[('mxnet', 'fp32')][0] / best:.2f}x the "
            "speed of mxnet fp32 "
            "here (once; cached)")
    choices[key] = {"backend": backend, "precision": precision, "note": note,
                    "seconds": {f"{b} {p}": round(t, 4) for (b, p), (t, _) in timed.items()},
                    "self_psnr_db": checked}
    os.makedirs(CACHE_DIR, exist_ok=True)
    atomic_write_json(CHOICES, choices)
    return model, note


