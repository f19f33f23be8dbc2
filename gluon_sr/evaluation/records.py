"""What `evaluate --write-metrics` records in a model's sidecar: the reference (MXNet fp32)
benchmark numbers, or the PSNR change of another backend / precision against them; and the
one way every `--write-metrics` rewrites a sidecar."""
import json

from gluon_sr.utils.errors import GluonSRError
from gluon_sr.utils.fileio import atomic_write_json


def add_measurement_arguments(parser, out, recorded):
    """The flags every VGG-based measurement shares: --vgg, --write-metrics (saying what it
    records) and --out (its JSON report)."""
    parser.add_argument("--vgg", default="", help="VGG16 weights (default $GLUON_SR_VGG16)")
    parser.add_argument("--write-metrics", action="store_true", help=f"record {recorded}")
    parser.add_argument("--out", default=out, help=f"the JSON report (default {out})")


def update_sidecar(name_or_path, change):
    """Apply `change(description)` to model `name_or_path`'s JSON sidecar and write it back
    atomically (the params file, and so its recorded sha256, is untouched). Returns the path."""
    from gluon_sr.model_store import resolve

    path, _ = resolve(name_or_path)
    with open(path) as f:
        meta = json.load(f)
    change(meta)
    atomic_write_json(path, meta)
    return path


def record_benchmarks(meta, results, row):
    """The reference (MXNet fp32) numbers, into the sidecar's metrics."""
    bench = meta.setdefault("metrics", {}).setdefault("benchmarks", {})
    for set_name, rows in results["sets"].items():
        bench[f"{set_name}_x{results['scale']}"] = {
            **{k: round(v, 4) if k in ("psnr", "ssim", "lpips", "niqe") else
               round(v, 2) if k == "grid" else round(v, 1)
               for k, v in rows[row]["mean"].items() if v is not None},
            "bicubic_psnr": round(rows["bicubic"]["mean"]["psnr"], 4),
            **({"hr_grid": round(rows["HR"]["mean"]["grid"], 2)} if "HR" in rows else {}),
            **({"hr_niqe": round(rows["HR"]["mean"]["niqe"], 4)}
               if "niqe" in rows.get("HR", {}).get("mean", {}) else {})}
    meta["metrics"]["benchmark_protocol"] = results["protocol"]


def record_deployment(meta, results, row, path_name, sidecar):
    """The PSNR change of another backend / precision against the recorded reference, into the
    sidecar's "deployment" (what --backend auto reads before it offers that path)."""
    recorded = meta.get("metrics", {}).get("benchmarks", {})
    change = {}
    for set_name, rows in results["sets"].items():
        key = f"{set_name}_x{results['scale']}"
        if key not in recorded:
            raise GluonSRError(f"{sidecar}: no MXNet fp32 numbers for {key} to compare with; "
                               "run evaluate --write-metrics without --backend first")
        change[set_name] = round(rows[row]["mean"]["psnr"] - recorded[key]["psnr"], 4)
    meta.setdefault("deployment", {})[path_name] = {
        "psnr_change_db": change, "max_psnr_change_db": max(abs(v) for v in change.values()),
        "protocol": results["protocol"]}
