import mxnet as mx

from gluon_sr.bench import speed as bench
from gluon_sr.archs import get_model


def test_conv_flops_count_every_convolution():
    net = get_model("edsr", scale=2, channels=8, num_blocks=2)
    net.initialize()
    net.hybridize()
    net(mx.nd.zeros((1, 3, 8, 8)))
    h, w = 10, 12
    per_pixel = 3 * 8 * 9 + 4 * (8 * 8 * 9) + 8 * 12 * 9     # head, 2 units x 2, tail (3*2^2)
    assert bench._conv_flops(net, (1, 3, h, w)) == 2 * h * w * per_pixel


def test_style_net_flops_include_the_few_channel_output_conv():
    net = get_model("transform_net", channels=4, num_blocks=1)
    net.initialize()
    net.hybridize()
    net(mx.nd.zeros((1, 3, 16, 16)))
    macs = (256 * 3 * 81 * 4          # 9x9 3->4 at 16x16
            + 64 * 4 * 9 * 8          # stride-2 3x3 4->8, output 8x8
            + 16 * 8 * 9 * 16         # stride-2 3x3 8->16, output 4x4
            + 2 * 16 * 16 * 9 * 16    # one residual block at 4x4
            + 64 * 16 * 9 * 8         # resize-conv 16->8 at 8x8
            + 256 * 8 * 9 * 4         # resize-conv 8->4 at 16x16
            + 256 * 4 * 81 * 16)      # 9x9 4->RGB, computed as 16 outputs (FewChannelConv2D)
    assert bench._conv_flops(net, (1, 3, 16, 16)) == 2 * macs
