"""load_generator + generate: the saved sampling weights come back, seeds reproduce, truncation and classes behave."""

import math

import numpy as np
import pytest
import torch

from spectrogen.errors import UsageError
from spectrogen.sampling.generate import balanced_labels, generate, truncate_latents
from spectrogen.sampling.load import load_generator


def test_loaded_model_samples_what_the_saved_one_samples(gan_checkpoint):
    path, method = gan_checkpoint("specgan", ema=True)
    model = load_generator(path)
    assert model.method.sampling_networks == ("generator_ema",)
    expected = method.sample(6, generator=torch.Generator().manual_seed(3))  # uses the EMA copy
    got = generate(model, 6, seed=3)
    assert got.shape == (6, 1, 32, 32)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)  # one batch of 6 through the same operations
    # the raw generator differs from its average in this checkpoint: the EMA weights were the ones used
    raw = method.networks["generator"](
        torch.rand(6, 8, generator=torch.Generator().manual_seed(3)) * 2 - 1)
    assert (raw - expected).abs().max() > 1e-3


def test_only_sampling_networks_are_restored(gan_checkpoint):
    path, method = gan_checkpoint("dcgan")
    model = load_generator(path)
    saved = method.networks["discriminator"].state_dict()
    fresh = model.method.networks["discriminator"].state_dict()
    assert any(not torch.equal(saved[k], fresh[k]) for k in saved)  # the critic was left as built
    for key, value in method.networks["generator"].state_dict().items():
        torch.testing.assert_close(model.method.networks["generator"].state_dict()[key], value)


@pytest.mark.parametrize("family", ["dcgan", "autoencoder"])
def test_seed_reproduces_and_batch_size_does_not_matter(gan_checkpoint, family):
    path, _ = gan_checkpoint(family)
    model = load_generator(path)
    whole = generate(model, 7, seed=11, batch_size=64)
    # outputs up to ~5: batches of 2 and of 7 may sum in another order (measured up to 1.2e-6 apart)
    torch.testing.assert_close(generate(model, 7, seed=11, batch_size=2), whole, rtol=1e-5, atol=1e-5)
    assert (generate(model, 7, seed=12) - whole).abs().max() > 1e-3


def test_truncated_normal_latents_keep_small_components_and_redraw_the_rest():
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(4000, 16, generator=generator)
    bound = 1.0
    truncated = truncate_latents(z, bound, "normal", generator)
    inside = z.abs() <= bound
    assert truncated.abs().max() <= bound
    assert torch.equal(truncated[inside], z[inside])
    # redrawn components follow N(0, 1) truncated to [-1, 1]: variance 1 - 2 phi(1) / (2 Phi(1) - 1)
    phi = math.exp(-0.5) / math.sqrt(2 * math.pi)
    variance = 1 - 2 * phi / math.erf(1 / math.sqrt(2))
    redrawn = truncated[~inside]
    assert redrawn.numel() > 15000
    assert abs(redrawn.var().item() - variance) < 0.01 and abs(redrawn.mean().item()) < 0.02


def test_uniform_latents_are_clamped_and_bad_bounds_refused():
    z = torch.linspace(-1, 1, 11)[None]
    assert torch.equal(truncate_latents(z, 0.5, "uniform"), z.clamp(-0.5, 0.5))
    with pytest.raises(UsageError, match="positive"):
        truncate_latents(z, 0.0, "uniform")


def test_truncation_pulls_samples_together_and_a_loose_bound_changes_nothing(gan_checkpoint):
    path, _ = gan_checkpoint("dcgan")
    model = load_generator(path)
    plain = generate(model, 32, seed=5)
    # the same latents in the same batch through the same operations
    torch.testing.assert_close(generate(model, 32, seed=5, truncation=50.0), plain, rtol=0, atol=1e-6)
    tight = generate(model, 32, seed=5, truncation=0.05)

    def spread(x):  # mean distance of each sample to the average sample
        return (x - x.mean(0, keepdim=True)).flatten(1).norm(dim=1).mean().item()

    assert spread(tight) < 0.5 * spread(plain)


def test_balanced_labels_are_equal_blocks():
    for n in range(1, 40):
        for classes in range(1, 6):
            labels = balanced_labels(n, classes)
            counts = np.bincount(labels.numpy(), minlength=classes)
            assert counts.max() - counts.min() <= 1 and (np.diff(labels.numpy()) >= 0).all()


def test_conditional_classes_by_name_or_index(gan_checkpoint):
    path, method = gan_checkpoint("cgan", classes=("cat", "dog", "owl"))
    model = load_generator(path)
    assert model.class_index("dog") == 1 and model.class_index("2") == 2 and model.class_index(0) == 0
    with pytest.raises(UsageError, match="0: cat, 1: dog, 2: owl"):
        model.class_index("horse")
    with pytest.raises(UsageError):
        model.class_index("3")
    labels = torch.full((4,), 1)
    expected = method.sample(4, generator=torch.Generator().manual_seed(2), labels=labels)
    # one batch of 4 through the same operations
    torch.testing.assert_close(generate(model, 4, labels=labels, seed=2), expected, rtol=0, atol=1e-6)
    other = generate(model, 4, labels=torch.full((4,), 2), seed=2)
    assert (other - expected).abs().max() > 1e-4  # the class reaches the generator


def test_classes_on_an_unconditional_model_are_refused(gan_checkpoint):
    path, _ = gan_checkpoint("specgan")
    model = load_generator(path)
    with pytest.raises(UsageError, match="unconditional"):
        model.class_index("dog")
    with pytest.raises(UsageError, match="not conditional"):
        generate(model, 2, labels=[0, 0])


def test_the_package_exports_functions_not_same_named_modules():
    import spectrogen.sampling.generate  # noqa: F401  (a submodule named like the function)
    from spectrogen import sampling

    for name in ("load_generator", "generate", "to_audio", "save_images", "make_grid"):
        assert callable(getattr(sampling, name)), name
