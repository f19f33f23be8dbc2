"""python -m gluon_sr.bench: see gluon_sr.bench.speed."""
import gluon_sr  # noqa: F401  (sets OpenMP threads before MXNet loads)
from gluon_sr.bench.speed import main
from gluon_sr.utils.errors import run_cli

run_cli(main)
