"""The reference measurements, run in the bench environment (requirements-bench.txt) as
`python -m gluon_sr.bench --worker torch|onnxruntime`: PyTorch eager and ONNX Runtime, which
cannot share a process (or a numpy) with MXNet 1.9. Nothing here imports mxnet."""
import json
import os

import numpy as np

from gluon_sr.bench.timing import TRAIN_BATCH, median_seconds, test_input, train_batch
from gluon_sr.utils.runtime import physical_core_count


def _npz_list(path):
    with np.load(path) as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


def torch_worker(folder, names, repeat):
    import torch

    from gluon_sr.bench.torch_reference import VGGFeatures, load_arrays, reference_net

    torch.set_num_threads(physical_core_count())
    n = 2048
    a, b = torch.rand(n, n), torch.rand(n, n)
    out = {"sgemm_gflops": 2 * n ** 3 / median_seconds(lambda: torch.mm(a, b), repeat) / 1e9,
           "version": torch.__version__, "models": {}}
    for name in names:
        with open(os.path.join(folder, name + ".json")) as f:
            meta = json.load(f)
        try:
            net = load_arrays(reference_net(meta), _npz_list(os.path.join(folder, name + ".npz")))
        except NotImplementedError as e:
            out["models"][name] = {"skipped": str(e)}
            continue
        net.eval()
        check = np.load(os.path.join(folder, name + ".check.npz"))
        x_np, out_mp = test_input(meta)
        x = torch.from_numpy(x_np)
        with torch.inference_mode():
            diff = float(np.abs(net(torch.from_numpy(check["input"])).numpy()
                                - check["output"]).max())
            seconds = median_seconds(lambda: net(x), repeat)
        # What a PyTorch user would pick for speed: bf16 autocast, channels-last memory (under
        # no_grad: inference-mode tensors could not be trained on afterwards).
        with torch.no_grad():
            fast = net.to(memory_format=torch.channels_last)
            x_cl = x.contiguous(memory_format=torch.channels_last)

            def bf16():
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return fast(x_cl)
            bf16_seconds = median_seconds(bf16, repeat)
            net = net.to(memory_format=torch.contiguous_format)
        record = {"max_abs_diff_vs_mxnet": diff, "ms_per_mp": 1000 * seconds / out_mp,
                  "bf16_channels_last_ms_per_mp": 1000 * bf16_seconds / out_mp}
        if meta.get("task", "sr") != "sr":
            out["models"][name] = record
            continue
        scale = meta["config"]["scale"]
        # Training step, as mxnet_training_step.
        net.train()
        vgg = load_arrays(VGGFeatures("relu2_2"), _npz_list(os.path.join(folder, "vgg.npz")))
        for p in vgg.parameters():
            p.requires_grad_(False)
        opt = torch.optim.Adam(net.parameters(), lr=1e-5)
        bx, by = (torch.from_numpy(a) for a in train_batch(scale))

        def step():
            with torch.no_grad():
                target = vgg(by)
            pred = net(bx)
            feat = ((vgg(pred) - target) ** 2).mean(dim=(1, 2, 3))
            loss = (2e-5 * feat + (pred - by).abs().mean(dim=(1, 2, 3))).sum() / TRAIN_BATCH
            opt.zero_grad()
            loss.backward()
            opt.step()
        record["train_samples_per_s"] = TRAIN_BATCH / median_seconds(step, repeat)
        out["models"][name] = record
    return out


def onnxruntime_worker(folder, names, repeat):
    import onnxruntime

    from gluon_sr.infer.loader import load_for_inference

    out = {"version": onnxruntime.__version__, "models": {}}
    for name in names:
        model = load_for_inference(os.path.join(folder, name + ".onnx"), "onnxruntime")
        x, out_mp = test_input(model.meta)
        seconds = median_seconds(lambda: model.forward(x), repeat)
        out["models"][name] = {"ms_per_mp": 1000 * seconds / out_mp}
    return out
