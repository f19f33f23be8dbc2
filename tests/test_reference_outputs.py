"""Every shipped model, through load_for_inference, gives the outputs recorded before the
package was reorganised (tests/data/record_reference_outputs.py says how they were made)."""
import os

import numpy as np
import pytest

from conftest import REPO

REFERENCE = os.path.join(REPO, "tests", "data", "reference_outputs.npz")
RECORDED = dict(np.load(REFERENCE))
NAMES = sorted({key.split("/")[0] for key in RECORDED if "/" in key})


def _isa():
    from record_reference_outputs import cpu_isa

    return cpu_isa()


def _check_params_unchanged(name):
    from record_reference_outputs import params_sha256

    if params_sha256(name) != str(RECORDED[f"{name}/params_sha256"]):
        pytest.fail(f"params/{name}.params changed since its outputs were recorded; record "
                    "them again (tests/data/record_reference_outputs.py)")


@pytest.fixture(autouse=True)
def _importable_recorder(monkeypatch):
    monkeypatch.syspath_prepend(os.path.join(REPO, "tests", "data"))


@pytest.mark.parametrize("precision", ["fp32", "bf16", "int8"])
@pytest.mark.parametrize("name", NAMES)
def test_mxnet_outputs_equal_the_recorded_ones(name, precision):
    pytest.importorskip("mxnet")
    from gluon_sr.infer.loader import load_for_inference
    from gluon_sr.utils.errors import GluonSRError

    _check_params_unchanged(name)
    key = f"{name}/mxnet_{precision}"
    if key not in RECORDED:
        pytest.skip(f"{precision} was not available where the outputs were recorded")
    try:
        model = load_for_inference(name, "mxnet", precision)
    except GluonSRError as e:
        pytest.skip(str(e))
    out = model.forward(RECORDED[f"{name}/input"])
    if precision == "fp32" or _isa() == str(RECORDED["recorded_isa"]):
        np.testing.assert_allclose(out, RECORDED[key], rtol=0, atol=1e-5)
    else:
        # Other CPU features run other low-precision kernels (rounding differs): compare with
        # the fp32 output at the precision's own tolerance instead.
        np.testing.assert_allclose(out, RECORDED[f"{name}/mxnet_fp32"], rtol=0, atol=0.05)
