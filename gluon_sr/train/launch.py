"""Start a distributed training job on MXNet's parameter server (ps-lite).

    python -m gluon_sr.train.launch -n 2 -s 1 -- python train.py --kvstore dist_sync ...
    python -m gluon_sr.train.launch -n 4 -s 2 -H hosts.txt -- python train.py --kvstore dist_sync ...

ps-lite needs one scheduler, some servers and some workers, each a process told its role by
DMLC_* environment variables. MXNet's bundled launcher (tools/launch.py -> dmlc_tracker) calls
`Thread.isAlive`, removed in Python 3.9, so this module sets the same variables itself. Servers
and the scheduler are `python -c "import mxnet"`: importing MXNet with DMLC_ROLE=server or
scheduler runs that role's loop and exits when the workers are done.

Without -H every process runs on this machine (127.0.0.1). With -H HOSTFILE (one host per line)
the scheduler runs here and servers and workers go round-robin over the hosts through ssh; the
hosts need the same checkout at the same path and password-less ssh, and a resumable run needs
its --run-dir on storage every host sees.
"""
import os
import shlex
import socket
import subprocess
import sys
import threading
import time

from gluon_sr.utils.errors import ArgumentParser, GluonSRError, run_cli
from gluon_sr.utils.runtime import physical_core_count

SHUTDOWN_GRACE_S = 30


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def own_address(probe_host):
    """This machine's address as seen on the route to `probe_host` (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect((probe_host, 9))
            return s.getsockname()[0]
        except OSError:
            return socket.gethostbyname(socket.gethostname())


def read_hostfile(path):
    try:
        with open(path) as f:
            hosts = [line.split("#")[0].strip() for line in f]
    except OSError as e:
        raise GluonSRError(f"{path}: cannot read the host file ({e.strerror})")
    hosts = [h for h in hosts if h]
    if not hosts:
        raise GluonSRError(f"{path}: no hosts")
    return hosts


def plan(num_workers, num_servers, hosts=None, root_uri=None, port=None):
    """[(role, host or None for local, env)] for the scheduler, the servers and the workers."""
    if num_workers < 1 or num_servers < 1:
        raise GluonSRError("need at least one worker (-n) and one server (-s)")
    port = port or free_port()
    root_uri = root_uri or (own_address(hosts[0]) if hosts else "127.0.0.1")
    common = {"DMLC_PS_ROOT_URI": root_uri, "DMLC_PS_ROOT_PORT": str(port),
              "DMLC_NUM_SERVER": str(num_servers), "DMLC_NUM_WORKER": str(num_workers)}
    # Local workers share this machine's cores: split them so OpenMP does not oversubscribe
    # (unless the user chose a thread count). Remote workers size themselves on import.
    local_threads = os.environ.get("OMP_NUM_THREADS") or str(
        max(1, physical_core_count() // num_workers))
    procs = [("scheduler", None, {**common, "DMLC_ROLE": "scheduler", "OMP_NUM_THREADS": "1"})]
    for role, count in (("server", num_servers), ("worker", num_workers)):
        for i in range(count):
            host = hosts[i % len(hosts)] if hosts else None
            env = {**common, "DMLC_ROLE": role}
            if host is None:
                env["OMP_NUM_THREADS"] = local_threads if role == "worker" else "1"
            procs.append((role, host, env))
    return procs


def process_argv(role, host, env, command, cwd):
    """The argv that starts one process: the command itself locally, or wrapped in ssh."""
    argv = command if role == "worker" else [sys.executable, "-c", "import mxnet"]
    if host is None:
        return argv
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()))
    remote = f"cd {shlex.quote(cwd)} && env {exports} {shlex.join(argv)}"
    return ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new", host, remote]


def _relay(stream, label):
    for line in iter(stream.readline, ""):
        sys.stdout.write(f"[{label}] {line}")
        sys.stdout.flush()


def launch(num_workers, num_servers, command, hosts=None, root_uri=None, port=None,
           timeout=None):
    """Run the job; returns the first non-zero worker exit code, else 0."""
    if not command:
        raise GluonSRError("no command to launch (put it after --)")
    cwd = os.getcwd()
    procs, relays = [], []
    counts = {}
    try:
        for role, host, env in plan(num_workers, num_servers, hosts, root_uri, port):
            label = f"{role} {counts.setdefault(role, 0)}" + (f" @{host}" if host else "")
            counts[role] += 1
            # Remote processes get their variables through the ssh command line.
            child_env = {**os.environ, **env} if host is None else None
            p = subprocess.Popen(process_argv(role, host, env, command, cwd), env=child_env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 bufsize=1)
            procs.append((role, label, p))
            t = threading.Thread(target=_relay, args=(p.stdout, label), daemon=True)
            t.start()
            relays.append(t)
        workers = [(label, p) for role, label, p in procs if role == "worker"]
        deadline = None if timeout is None else time.time() + timeout
        failed = 0
        while True:
            codes = [p.poll() for _, p in workers]
            bad = [(label, c) for (label, _), c in zip(workers, codes) if c not in (None, 0)]
            if bad:
                label, failed = bad[0]
                print(f"launch: {label} exited with {failed}; stopping the job", file=sys.stderr)
                break
            if all(c == 0 for c in codes):
                break
            if deadline is not None and time.time() > deadline:
                print(f"launch: workers still running after {timeout} s; stopping the job",
                      file=sys.stderr)
                failed = 124
                break
            time.sleep(0.2)
        if not failed:
            # Scheduler and servers leave once every worker has finalised its kvstore.
            end = time.time() + SHUTDOWN_GRACE_S
            for _, _, p in procs:
                try:
                    p.wait(timeout=max(0.1, end - time.time()))
                except subprocess.TimeoutExpired:
                    pass
        return failed
    finally:
        for _, _, p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for t in relays:
            t.join(timeout=2)


def parse_args(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    command = []
    if "--" in argv:
        cut = argv.index("--")
        argv, command = argv[:cut], argv[cut + 1:]
    p = ArgumentParser(description="Run a command as ps-lite workers, with a "
                                "scheduler and servers (MXNet dist_sync kvstore).",
                                usage="python -m gluon_sr.train.launch -n WORKERS [-s SERVERS] "
                                "[-H HOSTFILE] -- COMMAND ...")
    p.add_argument("-n", "--num-workers", type=int, required=True)
    p.add_argument("-s", "--num-servers", type=int, default=1)
    p.add_argument("-H", "--hostfile", default=None,
                   help="one host per line: run servers and workers there through ssh")
    p.add_argument("--root-uri", default=None,
                   help="address the hosts reach the scheduler at (default: detected)")
    p.add_argument("--port", type=int, default=None, help="scheduler port (default: a free one)")
    p.add_argument("--timeout", type=float, default=None, help="stop the job after this many s")
    args = p.parse_args(argv)
    args.command = command
    return args


def main(argv=None):
    args = parse_args(argv)
    hosts = read_hostfile(args.hostfile) if args.hostfile else None
    return launch(args.num_workers, args.num_servers, args.command, hosts, args.root_uri,
                  args.port, args.timeout)


if __name__ == "__main__":
    run_cli(main)
