"""VGG16 layout, tap names and input conventions: plain data, shared by the MXNet loss
net (archs/vgg.py) and the PyTorch reference (bench/torch_reference.py). It stands outside
archs/ because importing that package imports MXNet, which the PyTorch process cannot load."""

# Output index (in vgg16().features) of each named ReLU tap.
TAPS = {"relu1_1": 1, "relu1_2": 3, "relu2_1": 6, "relu2_2": 8, "relu3_1": 11, "relu3_2": 13,
        "relu3_3": 15, "relu4_1": 18, "relu4_2": 20, "relu4_3": 22, "relu5_1": 25,
        "relu5_2": 27, "relu5_3": 29}
# The convolution outputs before those ReLUs ("conv5_3"): ESRGAN found pre-activation features
# a better perceptual target, since deep ReLU outputs are sparse and lose brightness cues.
TAPS.update({"conv" + name[4:]: index - 1 for name, index in list(TAPS.items())})
BLOCKS = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))

# How input in 0..1 RGB becomes what each set of weights was trained on.
CONVENTIONS = {
    # Original Oxford/Caffe VGG16 (../shared/weights): 0..255 RGB minus the ImageNet mean.
    "caffe": {"scale": 255.0, "mean": (123.68, 116.779, 103.939), "std": (1.0, 1.0, 1.0)},
    # MXNet model zoo vgg16(pretrained=True): 0..1 RGB, torchvision mean / std.
    "modelzoo": {"scale": 1.0, "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)},
}
