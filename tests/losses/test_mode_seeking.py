"""The mode-seeking term pairs examples of one class, punishes look-alike pairs and pushes them apart."""

import torch

from spectrogen.losses.mode_seeking import mode_seeking_loss, same_class_pairs


def test_pairs_are_disjoint_and_of_one_class():
    labels = torch.tensor([2, 0, 1, 0, 2, 1, 0, 2, 1])
    first, second = same_class_pairs(len(labels), labels, torch.device("cpu"))
    used = torch.cat([first, second]).tolist()
    assert len(used) == len(set(used))  # every example in one pair at most
    assert torch.equal(labels[first], labels[second])
    assert len(first) == 3  # 3 of each class: one pair per class, the odd one out left alone
    plain_first, plain_second = same_class_pairs(5, None, torch.device("cpu"))
    assert plain_first.tolist() == [0, 2] and plain_second.tolist() == [1, 3]


def test_look_alike_samples_cost_more_than_varied_ones():
    z = torch.randn(16, 8, generator=torch.Generator().manual_seed(0))
    varied = torch.randn(16, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    alike = varied[:1].expand(16, 1, 4, 4) + 1e-3 * varied  # one sample, barely perturbed
    assert mode_seeking_loss(alike, z) > 100 * mode_seeking_loss(varied, z)  # ratio 1/1e-3 of the spreads
    same = mode_seeking_loss(varied[:1].expand(16, 1, 4, 4).clone(), z)
    assert torch.isfinite(same)  # a fully collapsed batch stays finite (the epsilon), not inf


def test_no_pair_of_one_class_gives_zero_with_a_gradient():
    generator = torch.Generator().manual_seed(0)
    fake = torch.randn(3, 1, 2, 2, generator=generator, requires_grad=True)
    loss = mode_seeking_loss(fake, torch.randn(3, 4, generator=generator), torch.tensor([0, 1, 2]))
    loss.backward()
    assert loss.item() == 0.0 and torch.count_nonzero(fake.grad) == 0


def test_minimising_it_makes_a_generator_that_ignored_its_noise_use_it():
    # a linear generator whose weight on z starts near zero: every z gives (almost) the same output
    torch.manual_seed(0)
    generator = torch.nn.Linear(8, 32)
    with torch.no_grad():
        generator.weight.mul_(1e-3)
    optimizer = torch.optim.Adam(generator.parameters(), lr=1e-2)
    labels = torch.arange(16) % 4

    def spread() -> float:
        return float(generator(torch.randn(256, 8)).detach().std(dim=0).mean())

    before = spread()
    for _ in range(50):
        z = torch.randn(16, 8)
        optimizer.zero_grad()
        mode_seeking_loss(generator(z), z, labels).backward()
        optimizer.step()
    assert spread() > 20 * before  # the outputs now vary with z
