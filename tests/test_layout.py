"""The package's shape: layers import downwards only, and the ONNX side never needs MXNet."""
import ast
import os
import subprocess
import sys

from conftest import REPO

PACKAGE = os.path.join(REPO, "gluon_sr")


def module_imports():
    """{module: set of gluon_sr modules it imports anywhere (top level or inside functions)}."""
    graph = {}
    for root, _, files in os.walk(PACKAGE):
        for f in files:
            if not f.endswith(".py"):
                continue
            path = os.path.join(root, f)
            module = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".")
            module = module[:-len(".__init__")] if module.endswith(".__init__") else module
            package = module if f == "__init__.py" else module.rsplit(".", 1)[0]
            found = set()
            for node in ast.walk(ast.parse(open(path).read())):
                if isinstance(node, ast.Import):
                    found.update(a.name for a in node.names if a.name.startswith("gluon_sr"))
                elif isinstance(node, ast.ImportFrom):
                    base = node.module or ""
                    if node.level:
                        parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                        base = ".".join(parts + ([base] if base else []))
                    if base.startswith("gluon_sr"):
                        found.add(base)
            graph[module] = {m for m in found if m != module}
    return graph


def find_cycle(graph):
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt]
            if nxt not in state:
                cycle = visit(nxt, stack + [nxt])
                if cycle:
                    return cycle
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node, [node])
            if cycle:
                return cycle
    return None


def test_the_import_graph_has_no_cycle():
    graph = module_imports()
    assert "gluon_sr.train.loop" in graph and "gluon_sr.infer.loader" in graph
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_training_loop_knows_no_task():
    imported = module_imports()["gluon_sr.train.loop"]
    assert not {m for m in imported if m.endswith("_task") or m.endswith(".tasks")}, imported


def assert_runs_without_mxnet(code):
    """`code` runs in a fresh interpreter in which importing MXNet fails."""
    proc = subprocess.run([sys.executable, "-c", "import sys; sys.modules['mxnet'] = None\n"
                           + code + "\nprint('ok')"], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": REPO})
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_onnx_side_imports_without_mxnet():
    """What infer.py --backend onnxruntime loads must import with MXNet unavailable."""
    assert_runs_without_mxnet(
        "import gluon_sr.deploy.onnx_backend, gluon_sr.infer.loader, gluon_sr.infer.upscale,"
        " gluon_sr.infer.stylize, gluon_sr.infer.outputs, gluon_sr.utils.imageio\n"
        "import infer\n"
        "infer.parse_args(['x.png', '--backend', 'onnxruntime'])")


def test_reference_worker_side_imports_without_mxnet():
    """The bench's PyTorch / ONNX Runtime workers run where MXNet cannot be imported."""
    assert_runs_without_mxnet("import gluon_sr.bench.workers, gluon_sr.bench.speed, "
                              "gluon_sr.vgg_spec")


def test_modules_stay_small_or_say_why():
    """One concept a module: past ~300 lines its docstring must say why it is one file."""
    for root, _, files in os.walk(PACKAGE):
        for f in files:
            path = os.path.join(root, f)
            if f.endswith(".py") and sum(1 for _ in open(path)) > 300:
                doc = ast.get_docstring(ast.parse(open(path).read())) or ""
                assert "One file" in doc, f"{path} is over 300 lines"
