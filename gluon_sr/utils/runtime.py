"""Process-level setup that must happen before MXNet is imported, and device parsing."""
import os


def physical_core_count():
    """Physical cores available to this process (hyper-threads counted once).

    MXNet's OpenMP default is one thread per logical CPU, which oversubscribes the cores
    when hyper-threading is on; a 3x3 conv ran 1.8x faster with one thread per physical core.
    """
    try:
        allowed = os.sched_getaffinity(0)
    except AttributeError:
        allowed = set(range(os.cpu_count() or 1))
    cores = set()
    try:
        with open("/proc/cpuinfo") as f:
            proc = phys = core = None
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "processor":
                    proc = int(value)
                elif key == "physical id":
                    phys = value
                elif key == "core id":
                    core = value
                elif not key and proc is not None:
                    if proc in allowed:
                        cores.add((phys, core))
                    proc = phys = core = None
            if proc is not None and proc in allowed:
                cores.add((phys, core))
    except OSError:
        pass
    if not cores or (None, None) in cores:
        return max(1, len(allowed))
    return max(1, len(cores))


def configure_threads():
    """Set OMP_NUM_THREADS to the physical core count unless the user chose a value."""
    os.environ.setdefault("OMP_NUM_THREADS", str(physical_core_count()))
    # MKLDNN's primitive cache keeps one entry per input shape; tiled inference and
    # validation on many image sizes would otherwise grow it without bound.
    os.environ.setdefault("MXNET_MKLDNN_CACHE_NUM", "64")


def parse_contexts(gpus="", ctx=""):
    """Turn `--gpus 0,1` or `--ctx cpu:2` into a list of mx.Context (CPU by default)."""
    import mxnet as mx
    from gluon_sr.utils.errors import GluonSRError

    if gpus and ctx:
        raise GluonSRError("give either --gpus or --ctx, not both")
    if gpus:
        try:
            ids = [int(g) for g in gpus.split(",") if g.strip() != ""]
        except ValueError:
            raise GluonSRError(f"--gpus expects comma-separated device ids like 0,1, got {gpus!r}")
        if not ids:
            raise GluonSRError("--gpus is empty")
        available = mx.context.num_gpus()
        missing = [i for i in ids if i >= available]
        if missing:
            raise GluonSRError(f"--gpus {gpus}: this machine has {available} GPU(s)")
        return [mx.gpu(i) for i in ids]
    if ctx:
        kind, _, count = ctx.partition(":")
        if kind != "cpu":
            raise GluonSRError(f"--ctx expects cpu or cpu:N, got {ctx!r}")
        try:
            n = int(count) if count else 1
        except ValueError:
            raise GluonSRError(f"--ctx expects cpu:N with an integer N, got {ctx!r}")
        if n < 1:
            raise GluonSRError("--ctx cpu:N needs N >= 1")
        return [mx.cpu(i) for i in range(n)]
    return [mx.cpu()]
