"""Shapes, depth, parameter counts and initialisation of the DCGAN, SpecGAN and conditional networks."""

import pytest
import torch
from torch import nn

from spectrogen.config import build_config
from spectrogen.data.info import DataInfo
from spectrogen.errors import ConfigError
from spectrogen.metrics.spectral_statistics import lattice_peak_ratio
from spectrogen.models.conditional import ConditionalDiscriminator, ConditionalGenerator
from spectrogen.models.gan_method import build_discriminator
from spectrogen.models.gan_stacks import (DCGANDiscriminator, DCGANGenerator, SpecGANDiscriminator, SpecGANGenerator,
                                          stack_layout)

FAMILIES = [(DCGANGenerator, DCGANDiscriminator), (SpecGANGenerator, SpecGANDiscriminator)]

# every size with every upsampling once; 128 x 512 is 4 s of 16-kHz audio, the longer clips users ask for first
SIZES = [((32, 32), "nearest"), ((64, 64), "bilinear"), ((128, 128), "transposed"), ((256, 256), "nearest"),
         ((64, 256), "transposed"), ((128, 512), "nearest"), ((256, 64), "bilinear")]


@pytest.mark.parametrize("size, upsample", SIZES)
@pytest.mark.parametrize("generator_class, critic_class", FAMILIES)
def test_every_size_and_upsampling_gives_images_and_one_logit_per_example(generator_class, critic_class, size,
                                                                           upsample):
    generator = generator_class(12, 2, size, 1, upsample=upsample)
    images = generator(torch.randn(2, 12, generator=torch.Generator().manual_seed(0)))
    assert images.shape == (2, 1, *size) and images.abs().max() <= 1.0  # Tanh
    assert critic_class(2, size, 1)(images).shape == (2,)


def test_resize_convolutions_draw_no_lattice_where_transposed_ones_do():
    # a stride-2 transposed convolution whose kernel the stride does not divide paints a lattice of dots
    # (Odena et al. 2016), already at initialisation: isolated peaks of the mean 2-D power spectrum
    ratios = {}
    for upsample in ("transposed", "nearest"):
        torch.manual_seed(0)
        generator = SpecGANGenerator(16, 8, (64, 64), 1, upsample=upsample).eval()
        with torch.no_grad():
            images = generator(torch.rand(64, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1)
        ratios[upsample] = lattice_peak_ratio(images.numpy())
    # 1.2: the bound for trained samples, where real spectrograms give 1.0
    assert ratios["nearest"] <= 1.2 < ratios["transposed"], ratios


@pytest.mark.parametrize("size, layers", [(32, 3), (64, 4), (128, 5), (256, 6)])
def test_every_layer_doubles_from_a_4_by_4_map_so_depth_follows_the_image_size(size, layers):
    for generator, kernel in ((SpecGANGenerator(8, 2, (size, size)), 5), (DCGANGenerator(8, 2, (size, size)), 4)):
        # from 4 x 4 to size x size in `layers` stride-2 layers, each making n -> 2n or 2n - 1: all double
        transposed = [m for m in generator.modules() if isinstance(m, nn.ConvTranspose2d)]
        assert generator.start_shape[1:] == (4, 4) and len(transposed) == layers
        assert {m.kernel_size for m in transposed} == {(kernel, kernel)}
        assert generator(torch.zeros(1, 8)).shape[-2:] == (size, size)
    assert sum(isinstance(m, nn.Conv2d) for m in SpecGANDiscriminator(2, (size, size)).modules()) == layers


def test_specgan_parameter_counts_at_dim_64_match_the_layer_by_layer_count():
    generator, critic = SpecGANGenerator(100, 64), SpecGANDiscriminator(64)
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    # the 128x128 pair written out layer by layer: 5x5 kernels with biases, dense layers to and from a 4 x 4 map
    widths = [16 * 64, 8 * 64, 4 * 64, 2 * 64, 64, 1]
    convs = lambda ws: sum(a * b * 25 + b for a, b in zip(ws[:-1], ws[1:]))  # noqa: E731
    dense = 16 * widths[0]
    assert (count(generator), count(critic)) == (100 * dense + dense + convs(widths), convs(widths[::-1]) + dense + 1)
    # the 16·dim <-> 8·dim convolutions hold most of the weights, not the dense layers
    assert count(generator.project) < 0.1 * count(generator)
    assert count(critic.head) < 0.01 * count(critic)


def test_dcgan_discriminator_has_batch_norm_after_every_convolution_but_the_first():
    layers = list(DCGANDiscriminator(4, (64, 64), batchnorm=True).body)
    convs = [i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d)]
    followed_by_norm = [isinstance(layers[i + 1], nn.BatchNorm2d) for i in convs]
    assert followed_by_norm == [False] + [True] * (len(convs) - 1)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in SpecGANDiscriminator(4, (64, 64)).modules())


def test_initialisation_is_dcgan_normal():
    torch.manual_seed(0)  # the initialisation draws from the global stream
    generator = DCGANGenerator(100, 32, (64, 64), batchnorm=True)
    conv = [m for m in generator.modules() if isinstance(m, nn.ConvTranspose2d)][0]
    assert conv.weight.mean().abs() < 0.002
    assert conv.weight.std().item() == pytest.approx(0.02, rel=0.05)
    norms = [m for m in generator.modules() if isinstance(m, nn.BatchNorm2d)]
    assert torch.cat([m.weight.detach() for m in norms]).mean().item() == pytest.approx(1.0, abs=0.01)
    assert all(torch.all(m.bias == 0) for m in norms)


@pytest.mark.parametrize("generator_class, critic_class", FAMILIES)
def test_eval_mode_samples_do_not_depend_on_the_rest_of_the_batch(generator_class, critic_class):
    torch.manual_seed(0)  # the initialisation and z
    generator = generator_class(8, 4, (32, 32), 1, True).eval()
    z = torch.randn(6, 8)
    with torch.no_grad():
        together = generator(z)
        alone = torch.cat([generator(z[i:i + 1]) for i in range(6)])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-4)


def test_non_square_layout_starts_from_a_4_by_16_map():
    assert (stack_layout(128, 512, 8).start, len(stack_layout(128, 512, 8).widths)) == ((4, 16), 5)
    with pytest.raises(ConfigError, match="model.image_width"):
        stack_layout(128, 96, 8)


@pytest.mark.parametrize("base", FAMILIES)
@pytest.mark.parametrize("generator_input", ["onehot", "embedding"])
@pytest.mark.parametrize("discriminator_input", ["label_map", "projection"])
def test_conditional_networks_take_classes_and_non_square_maps(base, generator_input, discriminator_input):
    generator_class, critic_class = base
    size = (32, 128)
    generator = ConditionalGenerator(lambda n: generator_class(n, 2, size, 1), 6, 3, generator_input)
    critic = ConditionalDiscriminator(lambda c: critic_class(2, size, c), 1, size, 3, discriminator_input,
                                      use_spectral_norm=True)
    labels = torch.tensor([0, 1, 2, 1])
    images = generator(torch.randn(4, 6, generator=torch.Generator().manual_seed(0)), labels)
    assert images.shape == (4, 1, 32, 128) and critic(images, labels).shape == (4,)
    assert any("parametrizations" in name for name, _ in critic.named_parameters())


def test_the_class_changes_the_conditional_generators_output():
    torch.manual_seed(0)  # the initialisation and z
    generator = ConditionalGenerator(lambda n: SpecGANGenerator(n, 2, (32, 32)), 6, 3).eval()
    z = torch.randn(1, 6).expand(3, 6)
    with torch.no_grad():
        images = generator(z, torch.arange(3))
    scale = images.abs().max()  # tiny at initialisation (N(0, 0.02) weights)
    assert all((images[k] - images[k + 1]).abs().max() > 0.01 * scale for k in range(2))


def test_projection_adds_the_class_embedding_inner_product_to_the_logit():
    torch.manual_seed(0)  # the initialisation and x
    critic = ConditionalDiscriminator(lambda c: SpecGANDiscriminator(2, (32, 32), c), 1, (32, 32), 2,
                                      "projection").eval()
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        h = critic.base.features(x)
        plain = critic.base.logit(h)
        for k in range(2):
            labels = torch.full((2,), k)
            expected = plain + (h.sum(dim=(2, 3)) * critic.embed.weight[k]).sum(dim=1)
            torch.testing.assert_close(critic(x, labels), expected)


def test_the_auxiliary_classifier_needs_the_projection_critic_and_adds_class_logits():
    info = DataInfo((1, 32, 32), ["a", "b", "c"])
    settings = {"name": "cgan", "image_size": 32, "features_d": 4}
    critic = build_discriminator(build_config({"model": {**settings, "conditional": {
        "discriminator_input": "projection", "auxiliary_classifier": 1.0}}}), info)
    x = torch.randn(5, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    assert critic(x, torch.tensor([0, 1, 2, 0, 1])).shape == (5, 1 + 3)
    with pytest.raises(ConfigError, match="projection"):
        build_discriminator(build_config({"model": {**settings, "conditional": {"auxiliary_classifier": 1.0}}}), info)
