"""Measured speed: inference per output megapixel on every path, a training step, GFLOP/s.

    python -m gluon_sr.bench --reference-python .venv-bench/bin/python --out docs/bench.json

Each framework runs in its own process (its own OpenMP runtime, threads = physical cores):
MXNet here; PyTorch eager (the reference) and ONNX Runtime in the bench environment of
requirements-bench.txt (MXNet 1.9 cannot share a numpy with them). Models travel as arrays
(.npz, Gluon parameter order) and as exported ONNX files. Timings are medians of --repeat runs
after warm-up; nothing else should run on the machine meanwhile.
"""
import argparse
import json
import os
import platform
import subprocess
import tempfile

import numpy as np

from gluon_sr.bench.timing import (OUTPUT_SIDE, TRAIN_BATCH, TRAIN_PATCH, median_seconds,
                                   test_input, train_batch)
from gluon_sr.utils.errors import ArgumentParser, GluonSRError
from gluon_sr.utils.fileio import atomic_write_json
from gluon_sr.utils.paths import REPO_DIR
from gluon_sr.utils.runtime import physical_core_count


def _conv_flops(net, shape):
    """FLOPs (2 x multiply-adds) of every Convolution in `net` for an input of `shape`."""
    import mxnet as mx

    sym = net(mx.sym.var("data"))
    internals = sym.get_internals()
    _, out_shapes, _ = internals.infer_shape(data=shape)
    shapes = dict(zip(internals.list_outputs(), out_shapes))
    nodes = json.loads(sym.tojson())["nodes"]
    flops = 0
    for node in nodes:
        if node["op"] != "Convolution":
            continue
        kh, kw = (int(k) for k in node["attrs"]["kernel"].strip("()").split(","))
        src = nodes[node["inputs"][0][0]]
        cin = shapes[src["name"] if src["op"] == "null" else src["name"] + "_output"][1]
        flops += 2 * int(np.prod(shapes[node["name"] + "_output"])) * cin * kh * kw
    return flops


def mxnet_sgemm_gflops(n=2048, repeat=5):
    import mxnet as mx

    a = mx.nd.random.uniform(shape=(n, n))
    b = mx.nd.random.uniform(shape=(n, n))
    seconds = median_seconds(lambda: mx.nd.dot(a, b).wait_to_read(), repeat)
    return 2 * n ** 3 / seconds / 1e9


def mxnet_inference(names, repeat):
    import mxnet as mx

    from gluon_sr.infer.loader import load_for_inference
    from gluon_sr.model_store import load_model

    results = {}
    for name in names:
        _, meta = load_model(name)
        x_np, out_mp = test_input(meta)
        x = mx.nd.array(x_np)
        paths, unavailable, auto_choice = {}, {}, None
        # Reference rows: the plain Gluon network, not hybridized and hybridized.
        for path in ("imperative", "hybridized"):
            net, _ = load_model(name)
            if path == "hybridized":
                net.hybridize(static_alloc=True, static_shape=True)
            seconds = median_seconds(lambda: net(x).wait_to_read(), repeat)
            paths["mxnet_" + path] = 1000 * seconds / out_mp
        # What infer.py runs for each --backend / --precision (mxnet fp32 = the oneDNN-fused
        # graph), and what --backend auto picks.
        for backend, precision in (("mxnet", "fp32"), ("mxnet", "bf16"), ("mxnet", "int8"),
                                   ("openvino", "fp32"), ("openvino", "bf16"), ("auto", "auto")):
            key = f"{backend}_{'fused' if (backend, precision) == ('mxnet', 'fp32') else precision}"
            try:
                model = load_for_inference(name, backend, precision)
            except (GluonSRError, ImportError) as e:
                unavailable[key] = str(e)
                continue
            seconds = median_seconds(lambda: model.forward(x_np), repeat)
            paths[key] = 1000 * seconds / out_mp
            if backend == "auto":
                auto_choice = model.note
        net, _ = load_model(name)
        net.hybridize()
        net(x[:, :, :8, :8])
        flops = _conv_flops(net, x.shape)
        results[name] = {"input": list(x.shape[2:]), "output_mp": out_mp,
                         "conv_gflop": flops / 1e9, "ms_per_mp": paths,
                         "unavailable": unavailable, "auto_choice": auto_choice}
    return results


def mxnet_training_step(name, repeat, vgg_weights):
    """samples/s of train.py's step: the net, VGG relu2_2 + L1 loss, backward, Adam."""
    import mxnet as mx
    from mxnet import autograd, gluon

    from gluon_sr.model_store import load_model
    from gluon_sr.archs.vgg import load_loss_vgg
    from gluon_sr.train.sr_task import SRLoss, SROptions

    net, meta = load_model(name)
    scale = meta["config"]["scale"]
    net.hybridize(static_alloc=True, static_shape=True)
    vgg, _ = load_loss_vgg(("relu2_2",), weights=vgg_weights)
    vgg.hybridize(static_alloc=True, static_shape=True)
    loss_fn = SRLoss(SROptions(feat_weight=2e-5, pixel_weight=1.0, pixel_kind="l1"), vgg, scale)
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 1e-5})
    x, y = (mx.nd.array(a) for a in train_batch(scale))

    def step():
        with autograd.pause():
            target = loss_fn.target_features(y)
        with autograd.record():
            total, _ = loss_fn(net(x), y, target)
        total.backward()
        trainer.step(TRAIN_BATCH)
        mx.nd.waitall()
    return TRAIN_BATCH / median_seconds(step, repeat)


def model_arrays(name, vgg_weights, folder):
    """Weights for the other frameworks: NAME.npz (Gluon order) and the VGG16 convs."""
    import mxnet as mx

    from gluon_sr.model_store import load_model
    from gluon_sr.archs.vgg import load_loss_vgg

    net, meta = load_model(name)
    arrays = [p.data().asnumpy() for p in net.collect_params().values()]
    np.savez(os.path.join(folder, name + ".npz"), *arrays)
    with open(os.path.join(folder, name + ".json"), "w") as f:
        json.dump(meta, f)
    x = test_input(meta)[0][:, :, :32, :40]
    net.hybridize()
    np.savez(os.path.join(folder, name + ".check.npz"), input=x,
             output=net(mx.nd.array(x)).asnumpy())
    vgg_path = os.path.join(folder, "vgg.npz")
    if not os.path.exists(vgg_path):
        vgg, _ = load_loss_vgg(("relu2_2",), weights=vgg_weights)
        np.savez(vgg_path, *[p.data().asnumpy() for p in vgg.collect_params().values()
                             if p.name.endswith(("weight", "bias"))])


# ------------------------------------------------------------------------------ the run

def _run_worker(python, kind, folder, names, repeat):
    env = dict(os.environ, OMP_NUM_THREADS=str(physical_core_count()))
    env["PYTHONPATH"] = os.pathsep.join(
        [REPO_DIR, env.get("PYTHONPATH", "")])
    cmd = [python, "-m", "gluon_sr.bench", "--worker", kind, "--folder", folder,
           "--repeat", str(repeat), "--models", *names]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise GluonSRError(f"{kind} bench failed with {python}: {tail}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine_facts():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f
                          if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpu": model or platform.processor(), "physical_cores": physical_core_count(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "python": platform.python_version()}


def run(names, repeat, reference_python, vgg_weights):
    import mxnet as mx

    from gluon_sr.deploy.export import export_onnx
    from gluon_sr.model_store import load_model

    report = {"machine": machine_facts(), "mxnet": mx.__version__,
              "output_side": OUTPUT_SIDE, "repeat": repeat}
    report["sgemm_gflops"] = {"mxnet": mxnet_sgemm_gflops(repeat=repeat)}
    report["inference"] = mxnet_inference(names, repeat)
    sr_names = [n for n in names if load_model(n)[1].get("task", "sr") == "sr"]
    report["training"] = {n: {"batch": TRAIN_BATCH, "lr_patch": TRAIN_PATCH,
                              "loss": "VGG relu2_2 + L1",
                              "mxnet_samples_per_s": mxnet_training_step(n, repeat, vgg_weights)}
                          for n in sr_names}
    if reference_python:
        with tempfile.TemporaryDirectory() as folder:
            for name in names:
                net, meta = load_model(name)
                export_onnx(net, meta, os.path.join(folder, name + ".onnx"))
                model_arrays(name, vgg_weights, folder)
            ort = _run_worker(reference_python, "onnxruntime", folder, names, repeat)
            torch = _run_worker(reference_python, "torch", folder, names, repeat)
        report["onnxruntime"], report["torch"] = ort["version"], torch["version"]
        report["sgemm_gflops"]["torch"] = torch["sgemm_gflops"]
        for name in names:
            paths = report["inference"][name]["ms_per_mp"]
            paths["onnxruntime"] = ort["models"][name]["ms_per_mp"]
            ref = torch["models"].get(name, {})
            if "ms_per_mp" in ref:
                paths["torch_eager"] = ref["ms_per_mp"]
                paths["torch_bf16_channels_last"] = ref["bf16_channels_last_ms_per_mp"]
                report["inference"][name]["torch_max_abs_diff"] = ref["max_abs_diff_vs_mxnet"]
            if name in report["training"] and "train_samples_per_s" in ref:
                t = report["training"][name]
                t["torch_samples_per_s"] = ref["train_samples_per_s"]
                t["ratio_vs_torch"] = t["mxnet_samples_per_s"] / ref["train_samples_per_s"]
    for name, record in report["inference"].items():
        paths = record["ms_per_mp"]
        mx_paths = {k: v for k, v in paths.items() if k.startswith("mxnet_")}
        best = min(mx_paths, key=mx_paths.get)
        record["best_mxnet_path"] = best
        record["achieved_conv_gflops"] = {k: record["conv_gflop"] / record["output_mp"]
                                          / (v / 1000) for k, v in paths.items()}
        if "torch_eager" in paths:
            record["best_mxnet_speedup_vs_torch"] = paths["torch_eager"] / paths[best]
        if "auto_auto" in paths:
            # How much faster the default path (infer.py's --backend/--precision auto) is
            # than each other path, in this one run: > 1 means the default wins.
            record["default_speedup_vs"] = {k: v / paths["auto_auto"] for k, v in paths.items()
                                            if k != "auto_auto"}
    return report


def print_report(report):
    print(f"{report['machine']['cpu']}, {report['machine']['physical_cores']} cores; "
          f"sgemm GFLOP/s: " + ", ".join(f"{k} {v:.0f}" for k, v in report["sgemm_gflops"].items()))
    for name, record in report["inference"].items():
        print(f"\n{name}: {record['input'][0]}x{record['input'][1]} -> "
              f"{record['output_mp']:.2f} MP output, {record['conv_gflop']:.1f} GFLOP of convs")
        for path, ms in sorted(record["ms_per_mp"].items(), key=lambda kv: kv[1]):
            print(f"  {path:<20}{ms:9.1f} ms/MP   {record['achieved_conv_gflops'][path]:7.1f} GFLOP/s")
        if "best_mxnet_speedup_vs_torch" in record:
            print(f"  best MXNet path ({record['best_mxnet_path']}) vs PyTorch eager: "
                  f"{record['best_mxnet_speedup_vs_torch']:.2f}x")
        if record.get("default_speedup_vs"):
            print(f"  default path ({record['auto_choice']}) vs each: " + ", ".join(
                f"{k} {v:.2f}x" for k, v in sorted(record["default_speedup_vs"].items())))
    for name, t in report["training"].items():
        line = f"\ntraining step {name} (batch {t['batch']}, {t['lr_patch']} px LR, {t['loss']}): " \
               f"MXNet {t['mxnet_samples_per_s']:.1f} samples/s"
        if "torch_samples_per_s" in t:
            line += f", PyTorch {t['torch_samples_per_s']:.1f} ({t['ratio_vs_torch']:.2f}x)"
        print(line)


def parse_args(argv=None):
    p = ArgumentParser(description="Inference and training speed of gluon-sr models")
    p.add_argument("--models", nargs="*", default=None, help="default: every SR and style network in params/")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--reference-python", default=None,
                   help="python of the bench environment (requirements-bench.txt) for the "
                   "PyTorch and ONNX Runtime measurements; without it only MXNet is measured")
    p.add_argument("--vgg", default="", help="VGG16 weights (default $GLUON_SR_VGG16)")
    p.add_argument("--out", default="bench.json")
    p.add_argument("--worker", choices=("torch", "onnxruntime"), help=argparse.SUPPRESS)
    p.add_argument("--folder", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        from gluon_sr.bench.workers import onnxruntime_worker, torch_worker

        worker = torch_worker if args.worker == "torch" else onnxruntime_worker
        print(json.dumps(worker(args.folder, args.models, args.repeat)))
        return 0
    from gluon_sr.model_store import image_models

    names = args.models or image_models()
    if not names:
        raise GluonSRError("no models to measure")
    report = run(names, args.repeat, args.reference_python, args.vgg or None)
    print_report(report)
    atomic_write_json(args.out, report)
    print(f"\nwrote {args.out}")
    return 0
