"""Multi-machine training on MXNet's parameter server, run here as local processes."""
import json
import os
import re
import sys

import pytest

from conftest import REPO
from gluon_sr.train import launch
from gluon_sr.train.run import resolve_config, train
from gluon_sr.utils.errors import GluonSRError

pytestmark = pytest.mark.slow


def train_command(shards, tmp_path, steps, *extra):
    return [sys.executable, os.path.join(REPO, "train.py"), "--shards", shards, "--name", "d",
            "--arch", "edsr", "--channels", "8", "--blocks", "1", "--feat-weight", "0",
            "--pixel-weight", "1", "--pixel-loss", "l1", "--steps", str(steps),
            "--batch-size", "4", "--lr", "3e-3", "--log-every", "2", "--checkpoint-every", "2",
            "--run-dir", str(tmp_path / "run"), "--out-dir", str(tmp_path / "out"),
            "--kvstore", "dist_sync", "--quiet", *extra]


def checksums(output):
    return dict(re.findall(r"worker (\d) of 2: final parameter checksum ([0-9a-f]{64})", output))


def test_two_workers_stay_identical_and_resume(shards, tmp_path, capsys):
    """A scheduler, one server and two workers on 127.0.0.1 (ps-lite dist_sync)."""
    assert launch.main(["-n", "2", "-s", "1", "--timeout", "300", "--",
                        *train_command(shards, tmp_path, 4)]) == 0
    first = capsys.readouterr().out
    sums = checksums(first)
    assert set(sums) == {"0", "1"} and sums["0"] == sums["1"], first
    assert sorted(os.listdir(tmp_path / "out")) == ["d.json", "d.params"]   # rank 0 alone
    meta = json.load(open(tmp_path / "out" / "d.json"))
    assert meta["training"]["workers"] == 2 and meta["training"]["steps_done"] == 4

    assert launch.main(["-n", "2", "-s", "1", "--timeout", "300", "--",
                        *train_command(shards, tmp_path, 6, "--resume")]) == 0
    second = capsys.readouterr().out
    resumed = checksums(second)
    assert "resumed d at step 4" in second and resumed["0"] == resumed["1"] != sums["0"], second
    steps = [json.loads(line)["step"] for line in open(tmp_path / "run" / "log.jsonl")]
    assert steps == [2, 4, 6]


def test_a_failing_worker_stops_the_job(tmp_path):
    code = launch.main(["-n", "2", "--timeout", "120", "--", sys.executable, "-c",
                        "import sys; sys.exit(3)"])
    assert code == 3


def test_dist_kvstore_outside_a_job_is_a_user_error(shards, tmp_path, monkeypatch):
    monkeypatch.delenv("DMLC_ROLE", raising=False)
    cfg = resolve_config(dict(shards=shards, name="x", kvstore="dist_sync",
                              run_dir=str(tmp_path / "r"), out_dir=str(tmp_path / "o"),
                              progress=False))
    with pytest.raises(GluonSRError, match="gluon_sr.train.launch"):
        train(cfg)


def test_job_plan_and_ssh_commands(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    procs = launch.plan(3, 2, hosts=["a", "b"], root_uri="10.0.0.1", port=9000)
    assert [(role, host) for role, host, _ in procs] == [
        ("scheduler", None), ("server", "a"), ("server", "b"),
        ("worker", "a"), ("worker", "b"), ("worker", "a")]
    for role, _, env in procs:
        assert env["DMLC_ROLE"] == role and env["DMLC_PS_ROOT_URI"] == "10.0.0.1"
        assert env["DMLC_PS_ROOT_PORT"] == "9000"
        assert (env["DMLC_NUM_WORKER"], env["DMLC_NUM_SERVER"]) == ("3", "2")
    argv = launch.process_argv("worker", "b", procs[4][2], ["python", "train.py", "--name", "a b"],
                               "/home/me/gluon-sr")
    assert argv[0] == "ssh" and argv[-2] == "b"
    assert argv[-1].startswith("cd /home/me/gluon-sr && env DMLC_NUM_SERVER=2 ")
    assert argv[-1].endswith("python train.py --name 'a b'")
    server = launch.process_argv("server", None, procs[1][2], ["python", "train.py"], "/x")
    assert server[1:] == ["-c", "import mxnet"]
    local = launch.plan(2, 1)
    assert all(env["DMLC_PS_ROOT_URI"] == "127.0.0.1" for _, _, env in local)
    assert {env["OMP_NUM_THREADS"] for role, _, env in local if role != "worker"} == {"1"}


def test_launcher_usage_errors(tmp_path):
    with pytest.raises(GluonSRError, match="no command"):
        launch.main(["-n", "1"])
    with pytest.raises(GluonSRError, match="at least one worker"):
        launch.main(["-n", "0", "--", "true"])
    empty = tmp_path / "hosts"
    empty.write_text("# nothing\n\n")
    with pytest.raises(GluonSRError, match="no hosts"):
        launch.main(["-n", "1", "-H", str(empty), "--", "true"])
