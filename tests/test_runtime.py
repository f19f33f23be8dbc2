import os
import subprocess
import sys

import mxnet as mx
import pytest

from conftest import REPO
from gluon_sr.utils.errors import GluonSRError, describe
from gluon_sr.utils.runtime import parse_contexts, physical_core_count


def _omp_threads(env_value):
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if env_value is not None:
        env["OMP_NUM_THREADS"] = env_value
    out = subprocess.run([sys.executable, "-c",
                          "import gluon_sr, os; print(os.environ['OMP_NUM_THREADS'])"],
                         capture_output=True, text=True, cwd=REPO, env=env, check=True)
    return out.stdout.strip()


def test_omp_threads_default_to_physical_cores_but_respect_the_user():
    cores = physical_core_count()
    assert 1 <= cores <= (os.cpu_count() or 1)
    assert _omp_threads(None) == str(cores)
    assert _omp_threads("3") == "3"


def test_context_parsing():
    assert parse_contexts() == [mx.cpu()]
    assert parse_contexts(ctx="cpu:2") == [mx.cpu(0), mx.cpu(1)]
    for kwargs, message in [(dict(ctx="gpu:1"), "cpu or cpu:N"), (dict(ctx="cpu:x"), "integer"),
                            (dict(gpus="a"), "device ids"), (dict(gpus="0", ctx="cpu"), "either"),
                            (dict(gpus="99"), "GPU")]:
        with pytest.raises(GluonSRError, match=message):
            parse_contexts(**kwargs)


def test_describe_strips_mxnet_tracebacks():
    try:
        mx.nd.load(os.path.join(REPO, "README.md"))
    except Exception as e:     # MXNetError with an embedded C++ traceback
        text = describe(e)
    assert "Traceback" not in text and "\n" not in text and text
