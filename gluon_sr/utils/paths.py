"""Where the project's own folders are (each can be moved with an environment variable)."""
import os

REPO_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PARAMS_DIR = os.environ.get("GLUON_SR_PARAMS", os.path.join(REPO_DIR, "params"))
EXPORT_DIR = os.environ.get("GLUON_SR_EXPORTS", os.path.join(REPO_DIR, "exports"))
# Bundled example photos: the quick start's input and the int8 calibration images.
EXAMPLES_DIR = os.path.join(REPO_DIR, "examples")
# The shared data folder beside the repository (benchmarks, training photos, weights).
SHARED_DIR = os.environ.get("GLUON_SR_SHARED", os.path.join(os.path.dirname(REPO_DIR), "shared"))
# Where train.py writes models by default; params/ holds the shipped ones.
TRAINED_DIR = os.environ.get("GLUON_SR_TRAINED", os.path.join(REPO_DIR, "trained"))
# Derived files that are safe to delete: ONNX exports made on first use, OpenVINO's compiled
# networks, the measured choice of the fastest inference path.
CACHE_DIR = os.environ.get("GLUON_SR_CACHE",
                           os.path.join(os.path.expanduser("~"), ".cache", "gluon-sr"))
