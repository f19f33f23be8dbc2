"""Network factory: `get_model(name, **config)` builds a net whose config round-trips as JSON."""
import json
from dataclasses import asdict, fields

from .adain import AdaINDecoder, AdaINDecoderConfig
from .discriminator import Discriminator, PatchGANConfig
from .sr_resnet import SRResNet, SRResNetConfig
from .transform_net import TransformNet, TransformNetConfig

# Named presets. Each maps to (network class, config class, preset defaults).
MODELS = {
    # Seed 002's Gluon net: plain 9x9 conv, residual units with a 1x1 shortcut, BN.
    "srresnet_seed": (SRResNet, SRResNetConfig, dict(block="seed", head_act=False)),
    # Johnson et al. 2016, supplementary Table 2: BN + ReLU everywhere, scaled tanh out.
    "johnson_sr": (SRResNet, SRResNetConfig, dict(block="johnson", head_act=True,
                                                    output="tanh")),
    # EDSR-style fidelity net (Lim et al. 2017) sized for CPUs: no normalisation, identity
    # residual blocks, a long skip, 3x3 head and tail, all convs at input resolution.
    "edsr": (SRResNet, SRResNetConfig, dict(block="johnson", norm="none", head_kernel=3,
                                              tail_kernel=3, upsampler="subpixel",
                                              long_skip=True, num_blocks=12)),
    # Johnson et al. 2016 style transfer network (Table 1) with instance norm.
    "transform_net": (TransformNet, TransformNetConfig, {}),
    # The AdaIN decoder (Huang & Belongie 2017) for VGG16 relu4_1 features.
    "adain_decoder": (AdaINDecoder, AdaINDecoderConfig, {}),
    # Discriminators for GAN fine-tuning: pix2pix's 70x70 PatchGAN with spectral norm, and
    # pix2pixHD's multi-scale stack of them.
    "patchgan": (Discriminator, PatchGANConfig, {}),
    "multiscale_patchgan": (Discriminator, PatchGANConfig, dict(num_d=2)),
}


def get_model(name, **config):
    """Build the network `name` with preset defaults overridden by `config`."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; expected one of {sorted(MODELS)}")
    net_cls, cfg_cls, preset = MODELS[name]
    known = {f.name for f in fields(cfg_cls)}
    unknown = set(config) - known
    if unknown:
        raise ValueError(f"unknown config keys for {name}: {sorted(unknown)}")
    cfg = cfg_cls(**{**preset, **config})
    net = net_cls(cfg)
    net.model_name = name
    return net


def _as_json(config):
    # Tuples come back from a JSON file as lists; specs compare equal either way.
    return json.loads(json.dumps(asdict(config)))


def model_spec(net):
    """The JSON-able description from which get_model rebuilds `net`."""
    return {"arch": net.model_name, "config": _as_json(net.config)}


def canonical_spec(spec):
    """`spec` (e.g. read from a checkpoint) with the defaults of options added since filled in."""
    net_cls, cfg_cls, preset = MODELS[spec["arch"]]
    return {"arch": spec["arch"], "config": _as_json(cfg_cls(**{**preset, **spec["config"]}))}
