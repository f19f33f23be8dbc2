import json

import mxnet as mx
import numpy as np
import pytest

from gluon_sr.deploy import export
from gluon_sr.archs import get_model
from gluon_sr.utils.errors import GluonSRError
from gluon_sr.model_store import save_model

onnx = pytest.importorskip("onnx")


@pytest.mark.parametrize("arch,config,task", [
    ("edsr", dict(scale=2, channels=8, num_blocks=1), "sr"),
    ("transform_net", dict(channels=4, num_blocks=1), "style"),
])
def test_export_writes_gluon_onnx_and_check_files(tmp_path, arch, config, task):
    net = get_model(arch, **config)
    net.initialize(mx.init.Xavier())
    net(mx.nd.zeros((1, 3, 8, 8)))
    json_path = save_model(net, str(tmp_path / "m"), "tiny", {"task": task, "training": {}})
    paths = export.export(json_path, str(tmp_path / "exports"))
    onnx_path, check_path, symbol_path, params_path = paths
    model = onnx.load(onnx_path)
    onnx.checker.check_model(model)
    assert [i.name for i in model.graph.input] == ["data"]      # weights are not inputs
    described = json.loads({p.key: p.value for p in model.metadata_props}["gluon_sr"])
    assert described["task"] == task and described["arch"] == arch
    assert described["receptive_radius"] == net.receptive_radius()
    check = np.load(check_path)
    np.testing.assert_allclose(net(mx.nd.array(check["input"])).asnumpy(), check["output"],
                               atol=1e-6)
    # The Gluon pair reloads without the Python class and computes the same.
    loaded = mx.gluon.SymbolBlock.imports(symbol_path, ["data"], params_path)
    np.testing.assert_allclose(loaded(mx.nd.array(check["input"])).asnumpy(), check["output"],
                               atol=1e-5)


def test_export_of_a_missing_model_is_a_user_error(tmp_path):
    with pytest.raises(GluonSRError, match="no model named"):
        export.main(["no_such_model", "--out", str(tmp_path)])


def test_onnx_export_leaves_the_callers_network_as_it_was(tmp_path):
    """Export switches the copy's norms to the InstanceNorm operator, never the caller's."""
    from gluon_sr.archs.transform_net import stat_norms

    net = get_model("transform_net", channels=4, num_blocks=1)
    net.initialize(mx.init.Xavier())
    x = mx.nd.random.uniform(shape=(1, 3, 16, 16))
    before = net(x).asnumpy()
    export.export_onnx(net, {"task": "style"}, str(tmp_path / "s.onnx"))
    assert not any(norm.use_instance_norm_op for norm in stat_norms(net))
    np.testing.assert_array_equal(net(x).asnumpy(), before)
