"""gluon-sr: perceptual-loss image transformation networks (super-resolution, style transfer)."""
from gluon_sr.utils.runtime import configure_threads as _configure_threads

# OpenMP reads OMP_NUM_THREADS once, when MXNet loads: set it before anything imports mxnet.
_configure_threads()

__version__ = "0.1.0"
