"""Saving and loading trained networks as `NAME.params` + `NAME.json` (the JSON rebuilds the net).

The JSON records the sha256 of the params file; loading verifies it, so a damaged or swapped
params file is refused by name instead of running with wrong weights. Finding and describing
models needs no MXNet (the inference-only environment uses it); building them imports archs.
"""
import json
import os

from gluon_sr.utils.errors import GluonSRError, describe
from gluon_sr.utils.fileio import (atomic_path, atomic_write_json, output_folder, sha256_file,
                                   writing)
from gluon_sr.utils.paths import PARAMS_DIR, TRAINED_DIR


def save_model(net, out_dir, name, meta):
    """Write NAME.params and NAME.json (model spec + `meta`) atomically. Returns the JSON path."""
    from gluon_sr.archs import model_spec

    output_folder(out_dir)
    params_path = os.path.join(out_dir, name + ".params")
    with writing(params_path), atomic_path(params_path, ".params") as tmp:
        net.save_parameters(tmp)
        digest = sha256_file(tmp)
    record = {**model_spec(net), **meta, "params_file": name + ".params",
              "params_sha256": digest}
    json_path = os.path.join(out_dir, name + ".json")
    atomic_write_json(json_path, record)
    return json_path


def available_models(params_dir=PARAMS_DIR):
    if not os.path.isdir(params_dir):
        return []
    return sorted(f[:-5] for f in os.listdir(params_dir)
                  if f.endswith(".json") and os.path.exists(os.path.join(params_dir, f[:-5] + ".params")))


def models_where(predicate, params_dir=PARAMS_DIR, with_meta=False):
    """Names of the models in `params_dir` whose JSON description satisfies `predicate`
    ((name, description) pairs with `with_meta`)."""
    found = []
    for name in available_models(params_dir):
        with open(os.path.join(params_dir, name + ".json")) as f:
            meta = json.load(f)
        if predicate(meta):
            found.append((name, meta) if with_meta else name)
    return found


def image_models(params_dir=PARAMS_DIR, with_meta=False):
    """The models that take an image and give one (SR and per-style networks): what
    load_for_inference, the exporter, the benches and the web page run. The AdaIN decoder
    also needs a painting and the VGG16 encoder; infer.py --style-image runs it."""
    return models_where(lambda m: m.get("task", "sr") in ("sr", "style"), params_dir, with_meta)


def resolve(name_or_path, params_dir=PARAMS_DIR):
    """A model name or a path to NAME.json / NAME.params -> (json path, params path).

    Names are looked up in params/ (the shipped models), then in trained/ (train.py's output).
    """
    if name_or_path.endswith((".json", ".params")) or os.sep in name_or_path:
        base = os.path.splitext(name_or_path)[0]
        json_path, params_path = base + ".json", base + ".params"
        if not os.path.exists(json_path) and not os.path.exists(params_path):
            raise GluonSRError(f"{name_or_path}: model file not found")
    else:
        folder = next((d for d in (params_dir, TRAINED_DIR)
                       if os.path.exists(os.path.join(d, name_or_path + ".json"))), params_dir)
        json_path = os.path.join(folder, name_or_path + ".json")
        params_path = os.path.join(folder, name_or_path + ".params")
        if not os.path.exists(json_path):
            names = ", ".join(available_models(params_dir)) or "none"
            raise GluonSRError(f"no model named {name_or_path!r} (available: {names})")
    if not os.path.exists(json_path):
        raise GluonSRError(f"{json_path}: missing JSON sidecar (needed to rebuild the network)")
    if not os.path.exists(params_path):
        raise GluonSRError(f"{params_path}: params file not found")
    return json_path, params_path


def load_model_description(name_or_path, params_dir=PARAMS_DIR):
    """A model's JSON description, without loading its weights."""
    json_path, _ = resolve(name_or_path, params_dir)
    return _read_description(json_path)


def _read_description(json_path):
    try:
        with open(json_path) as f:
            meta = json.load(f)
        meta["arch"], dict(meta["config"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise GluonSRError(f"{json_path}: not a gluon-sr model description ({e})")
    try:
        inference_defaults(meta)
    except (AttributeError, TypeError, ValueError) as e:
        raise GluonSRError(f"{json_path}: corrupt model description ({type(e).__name__}: {e})")
    return meta


def inference_defaults(meta):
    """How a model runs unless told otherwise.

    SR models trained with a VGG feature loss drift in colour (seed 002), so they get its
    histogram-matching post-process by default; a sidecar's "inference" entry overrides that.
    """
    trained_perceptual = (meta.get("task", "sr") == "sr"
                          and float(meta.get("training", {}).get("feat_weight", 0)) > 0)
    hist_match = meta.get("inference", {}).get("hist_match", trained_perceptual)
    if not isinstance(hist_match, bool):
        raise ValueError(f"inference.hist_match is {hist_match!r}, not true or false")
    return {"hist_match": hist_match}



def load_model(name_or_path, ctx=None, params_dir=PARAMS_DIR):
    """Rebuild a network from its JSON and load its params. Returns (net, meta)."""
    import mxnet as mx

    json_path, params_path = resolve(name_or_path, params_dir)
    meta = _read_description(json_path)
    arch, config = meta["arch"], meta["config"]
    expected = meta.get("params_sha256")
    if expected is not None and sha256_file(params_path) != expected:
        raise GluonSRError(f"{params_path}: damaged (sha256 differs from the one recorded in "
                           f"{os.path.basename(json_path)})")
    try:
        from gluon_sr.archs import get_model

        net = get_model(arch, **config)
    except (TypeError, ValueError) as e:
        raise GluonSRError(f"{json_path}: invalid model config ({e})")
    try:
        net.load_parameters(params_path, ctx=ctx or mx.cpu())
    except Exception as e:  # MXNet reports bad files as AssertionError / MXNetError
        detail = describe(e)
        raise GluonSRError(f"{params_path}: corrupt or does not match {os.path.basename(json_path)}"
                           f" ({detail})")
    return net, meta


def interpolated_model(name_or_path, alpha, ctx=None, params_dir=PARAMS_DIR):
    """ESRGAN's network interpolation: a net with weights (1 - alpha) * parent + alpha * model,
    where the parent is the fidelity model a GAN model was fine-tuned from (its sidecar's
    "parent"). alpha 0 is the parent, 1 the model itself. Returns (net, meta)."""
    if not 0 <= alpha <= 1:
        raise GluonSRError(f"--interp {alpha}: must be between 0 and 1")
    net, meta = load_model(name_or_path, ctx, params_dir)
    parent = meta.get("parent")
    if not parent:
        raise GluonSRError(f"{name_or_path}: records no parent model to interpolate with "
                           "(GAN fine-tuned models do)")
    base, base_meta = load_model(parent, ctx, params_dir)
    if (base_meta["arch"], base_meta["config"]) != (meta["arch"], meta["config"]):
        raise GluonSRError(f"{name_or_path}: its parent {parent} has another architecture")
    # Structural names ("body.0.conv1.weight"): the two nets' parameter prefixes differ.
    base_params = base._collect_params_with_prefix()
    for key, param in net._collect_params_with_prefix().items():
        blended = (1 - alpha) * base_params[key].data() + alpha * param.data()
        param.set_data(blended)
    return net, {**meta, "interpolation": {"alpha": alpha, "parent": parent}}
