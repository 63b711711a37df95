"""load_generator + generate: seeds reproduce, truncation and classes behave; the diffusion sampling flags reach a
diffusion model, and only one."""

import math

import numpy as np
import pytest
import torch

from spectrogen.errors import UsageError
from spectrogen.models.conditional import balanced_labels
from spectrogen.sampling.generate import generate, set_diffusion_sampling, truncate_latents
from spectrogen.sampling.load import load_generator


@pytest.mark.parametrize("family", ["dcgan", "autoencoder"])
def test_seed_reproduces_and_batch_size_does_not_matter(gan_checkpoint, family):
    path, _ = gan_checkpoint(family)
    model = load_generator(path)
    whole = generate(model, 7, seed=11, batch_size=64)
    # outputs up to ~5: batches of 2 and of 7 may sum in another order
    torch.testing.assert_close(generate(model, 7, seed=11, batch_size=2), whole, rtol=1e-5, atol=1e-5)
    assert (generate(model, 7, seed=12) - whole).abs().max() > 1e-3


def test_truncated_normal_latents_keep_small_components_and_redraw_the_rest_and_uniform_ones_are_clamped():
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(4000, 16, generator=generator)
    truncated = truncate_latents(z, 1.0, "normal", generator)
    inside = z.abs() <= 1.0
    assert truncated.abs().max() <= 1.0
    assert torch.equal(truncated[inside], z[inside])
    # redrawn components follow N(0, 1) truncated to [-1, 1]: variance 1 - 2 phi(1) / (2 Phi(1) - 1)
    phi = math.exp(-0.5) / math.sqrt(2 * math.pi)
    variance = 1 - 2 * phi / math.erf(1 / math.sqrt(2))
    redrawn = truncated[~inside]
    assert redrawn.numel() > 15000
    assert abs(redrawn.var().item() - variance) < 0.01 and abs(redrawn.mean().item()) < 0.02
    uniform = torch.linspace(-1, 1, 11)[None]
    assert torch.equal(truncate_latents(uniform, 0.5, "uniform"), uniform.clamp(-0.5, 0.5))


@pytest.mark.parametrize("family, options, message", [
    ("specgan", {"n": 0}, "--n 0"), ("specgan", {"batch_size": 0}, "--batch-size 0"),
    ("specgan", {"truncation": 0.0}, "positive"), ("diffusion", {"truncation": -1.0}, "positive"),
    ("specgan", {"labels": [0, 0]}, "not conditional"), ("cgan", {"labels": [0]}, "2 samples but gave 1"),
    ("cgan", {"labels": [0, 3]}, "0..2")])
def test_impossible_requests_are_refused_before_anything_is_drawn(gan_checkpoint, family, options, message):
    _, method = gan_checkpoint(family, classes=("a", "b", "c") if family == "cgan" else ())
    with pytest.raises(UsageError, match=message):
        generate(method, **{"n": 2, **options})


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
    with pytest.raises(UsageError):
        model.class_index("3")
    labels = torch.full((4,), 1)
    expected = method.sample(4, generator=torch.Generator().manual_seed(2), labels=labels)
    # one batch of 4 through the same operations
    torch.testing.assert_close(generate(model, 4, labels=labels, seed=2), expected, rtol=0, atol=1e-6)
    other = generate(model, 4, labels=torch.full((4,), 2), seed=2)
    assert (other - expected).abs().max() > 1e-4  # the class reaches the generator


def test_the_package_exports_functions_not_same_named_modules():
    import spectrogen.sampling.generate  # noqa: F401  (a submodule named like the function)
    from spectrogen import sampling

    for name in ("load_generator", "generate", "to_audio", "save_images", "make_grid"):
        assert callable(getattr(sampling, name)), name


def test_the_diffusion_flags_change_how_a_diffusion_model_samples_and_only_one(gan_checkpoint):
    _, method = gan_checkpoint("diffusion", size=8, diffusion={"sampling_steps": 10})
    calls = []
    method.networks[method.sampling_networks[0]].register_forward_hook(lambda *_: calls.append(1))
    for options, expected in (({}, 10), ({"sampler": "ddim", "steps": 3, "eta": 0.5}, 3), ({"sampler": "ddpm"}, 20)):
        set_diffusion_sampling(method, **options)  # ancestral DDPM runs every training timestep
        calls.clear()
        assert method.sample(2, generator=torch.Generator().manual_seed(0)).shape == (2, 1, 8, 8)
        assert len(calls) == expected, options
    with pytest.raises(UsageError, match="sampling_steps"):
        set_diffusion_sampling(gan_checkpoint("diffusion", size=8)[1], steps=0)
    _, gan = gan_checkpoint("dcgan")
    with pytest.raises(UsageError, match="--sampler"):
        set_diffusion_sampling(gan, sampler="ddim")
    set_diffusion_sampling(gan)  # nothing asked: nothing to refuse
