"""Training the feature network: supervised on labelled data, else contrastive (SimCLR, Chen et al. 2020: it learns
to ignore what augmentations change) with a linear head on k-means clusters, the pseudo-classes of the IS."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spectrogen.errors import InputError
from spectrogen.metrics.classifier import FeatureClassifier, SpectrogramClassifier
from spectrogen.metrics.inputs import dataset_normalizer, normalised_examples, open_data


@dataclass
class ClassifierOptions:
    """How the feature network is trained; saved in the classifier file."""

    epochs: int = 6
    batch_size: int = 64
    learning_rate: float = 2e-3
    width: int = 8
    feature_dim: int = 128
    heldout_fraction: float = 0.2
    max_examples: int = 5000  # a random subset of a larger data set is enough and bounds time and memory
    clusters: int = 10  # pseudo-classes of unlabelled data
    temperature: float = 0.5  # of the NT-Xent loss
    seed: int = 0
    device: str = "cpu"


def _augment(x: torch.Tensor, generator: torch.Generator, *, noise: float, masks: bool) -> torch.Tensor:
    # x: (B, 1, F, T) normalised; returns an augmented copy that keeps the class. Its own draws, not those
    # of `spectral.augment`: the demo's figures were measured with the classifiers these draws train
    b, _, f, t = x.shape
    shifts = torch.randint(0, t, (b,), generator=generator)
    frames = (torch.arange(t)[None, :] - shifts[:, None]) % t  # (B, T): circular shift along time
    x = torch.gather(x, 3, frames[:, None, None, :].expand(b, 1, f, t).to(x.device))
    x = x + noise * torch.randn(x.shape, generator=generator).to(x.device)
    if masks:
        for axis, size in ((2, f), (3, t)):
            width = torch.randint(0, max(size // 8, 1) + 1, (b,), generator=generator)
            start = (torch.rand(b, generator=generator) * (size - width + 1)).long()
            position = torch.arange(size)[None, :]
            masked = (position >= start[:, None]) & (position < (start + width)[:, None])  # (B, size)
            shape = (b, 1, size, 1) if axis == 2 else (b, 1, 1, size)
            x = x.masked_fill(masked.view(shape).to(x.device), 0.0)
    return x


def _optimise(network_parameters, loss_of_batch: Callable[[torch.Tensor], torch.Tensor], train_index: np.ndarray,
              options: ClassifierOptions, rng: np.random.Generator) -> float:
    # the same loop for both kinds: AdamW with a cosine schedule over all steps; returns the last epoch's loss
    optimizer = torch.optim.AdamW(network_parameters, lr=options.learning_rate, weight_decay=1e-4)
    # small data sets get smaller batches, so that every epoch still makes at least 8 steps
    batch_size = min(options.batch_size, max(8, len(train_index) // 8))
    steps_per_epoch = max(1, len(train_index) // batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=options.epochs * steps_per_epoch)
    epoch_loss = math.nan
    for _ in range(options.epochs):
        order = rng.permutation(train_index)
        losses = []
        for step in range(steps_per_epoch):
            loss = loss_of_batch(torch.as_tensor(order[step * batch_size:(step + 1) * batch_size]))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        epoch_loss = float(np.mean(losses))
    return epoch_loss


def _nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    # z1, z2: (B, P) projections of two views; each view's positive is the other view of its example
    z = F.normalize(torch.cat([z1, z2]), dim=1)  # (2B, P)
    similarity = z @ z.T / temperature
    similarity.fill_diagonal_(float("-inf"))
    b = len(z1)
    targets = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)]).to(z.device)
    return F.cross_entropy(similarity, targets)


@torch.no_grad()
def _recalibrate_batchnorm(network: nn.Module, x: torch.Tensor, batch_size: int = 256) -> None:
    # after a short training the running statistics still remember the first steps' weights; one pass
    # with a cumulative average (momentum None) makes eval mode match the trained network
    norms = [module for module in network.modules() if isinstance(module, nn.BatchNorm2d)]
    for module in norms:
        module.reset_running_stats()
        module.momentum = None
    network.train()
    for chunk in x.split(batch_size):
        network.embed(chunk)
    for module in norms:
        module.momentum = 0.1


@torch.no_grad()
def _embed(network: SpectrogramClassifier, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    # x: (N, 1, F, T) -> (N, D), with the network in eval mode (batch-norm running statistics)
    network.eval()
    return torch.cat([network.embed(chunk) for chunk in x.split(batch_size)])


def train_classifier(x: np.ndarray, labels: Optional[np.ndarray], class_names: list[str],
                     options: ClassifierOptions = ClassifierOptions(), *, normalizer: Optional[dict] = None,
                     log: Callable[[str], None] = lambda message: None) -> FeatureClassifier:
    """Returns a feature network trained on normalised spectrograms x (N, F, T) and their labels (N,): a
    classifier with two or more classes, else a contrastive embedding with k-means pseudo-classes."""
    started = time.perf_counter()
    rng = np.random.default_rng(options.seed)
    torch.manual_seed(options.seed)
    generator = torch.Generator().manual_seed(options.seed)
    if len(x) > options.max_examples:
        chosen = np.sort(rng.choice(len(x), options.max_examples, replace=False))
        x, labels = x[chosen], (None if labels is None else np.asarray(labels)[chosen])
    device = torch.device(options.device)
    data = torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32).reshape(len(x), 1, *x.shape[-2:]).to(device)
    order = rng.permutation(len(data))
    held = max(1, int(round(len(data) * options.heldout_fraction))) if len(data) >= 5 else 0
    train_index, heldout_index = np.sort(order[held:]), np.sort(order[:held])
    supervised = labels is not None and len(class_names) >= 2 and len(np.unique(labels)) >= 2
    if supervised:
        y = torch.as_tensor(np.asarray(labels), dtype=torch.long).to(device)
        network = SpectrogramClassifier(tuple(x.shape[-2:]), len(class_names), options.width,
                                        options.feature_dim).to(device)

        def loss_of_batch(index: torch.Tensor) -> torch.Tensor:
            batch = _augment(data[index], generator, noise=0.05, masks=False)
            return F.cross_entropy(network(batch)[1], y[index])

        final_loss = _optimise(network.parameters(), loss_of_batch, train_index, options, rng)
        _recalibrate_batchnorm(network, data[train_index])
        log(f"supervised classifier: final training loss {final_loss:.3f}")
        held_x, held_y = data[heldout_index], y[heldout_index]
        measure = "accuracy on the data set's classes"
        kind, names = "supervised", list(class_names)
        counts = np.bincount(np.asarray(labels)[train_index], minlength=len(names))
    else:
        network, held_x, held_y, names, counts = _train_contrastive(data, train_index, heldout_index, options, rng,
                                                                    generator, log)
        measure = "accuracy on k-means pseudo-classes of the embedding"
        kind = "contrastive"
    with torch.no_grad():  # _embed puts the network in eval mode
        accuracy = (network.head(_embed(network, held_x)).argmax(1) == held_y).float().mean().item() \
            if len(held_x) else math.nan
    log(f"held-out {measure}: {accuracy:.3f} ({len(held_x)} examples)")
    return FeatureClassifier(
        network.cpu().eval(), kind, names, normalizer,
        heldout={"accuracy": accuracy, "count": int(len(held_x)), "measure": measure},
        training={"options": asdict(options), "examples": int(len(train_index)),
                  "class_counts": [int(c) for c in counts], "seconds": round(time.perf_counter() - started, 2)},
    )


def _train_contrastive(data, train_index, heldout_index, options, rng, generator, log):
    # SimCLR on the training split, then k-means pseudo-classes and a linear head on the frozen embedding
    from sklearn.cluster import KMeans  # deferred: scikit-learn is slow to import

    clusters = int(np.clip(len(train_index) // 10, 2, options.clusters))
    network = SpectrogramClassifier(tuple(data.shape[-2:]), clusters, options.width,
                                    options.feature_dim).to(data.device)
    projection = nn.Sequential(nn.Linear(options.feature_dim, options.feature_dim), nn.ReLU(),
                               nn.Linear(options.feature_dim, 64)).to(data.device)

    def loss_of_batch(index: torch.Tensor) -> torch.Tensor:
        batch = data[index]
        views = [_augment(batch, generator, noise=0.1, masks=True) for _ in range(2)]
        z1, z2 = projection(network.embed(torch.cat(views))).chunk(2)
        return _nt_xent(z1, z2, options.temperature)

    parameters = list(network.body.parameters()) + list(network.features.parameters()) + list(projection.parameters())
    final_loss = _optimise(parameters, loss_of_batch, train_index, options, rng)
    log(f"contrastive embedding: final NT-Xent loss {final_loss:.3f}")
    _recalibrate_batchnorm(network, data[train_index])

    embedded = _embed(network, data).cpu().numpy()  # (N, D)
    kmeans = KMeans(n_clusters=clusters, n_init=3, random_state=options.seed).fit(embedded[train_index])
    pseudo = torch.as_tensor(kmeans.predict(embedded), dtype=torch.long).to(data.device)
    features = torch.as_tensor(embedded, device=data.device)
    head_optimizer = torch.optim.Adam(network.head.parameters(), lr=1e-2)
    train = torch.as_tensor(train_index, device=data.device)
    for _ in range(300):  # a linear model on a few thousand fixed vectors: full-batch steps are enough
        loss = F.cross_entropy(network.head(features[train]), pseudo[train])
        head_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        head_optimizer.step()
    names = [f"cluster_{i}" for i in range(clusters)]
    counts = np.bincount(pseudo[train].cpu().numpy(), minlength=clusters)  # training examples per cluster
    return network, data[heldout_index], pseudo[torch.as_tensor(heldout_index, device=data.device)], names, counts


def train_classifier_on_dataset(data, *, shape: Optional[tuple[int, int]] = None,
                                normalization: str = "per_frequency",
                                options: ClassifierOptions = ClassifierOptions(),
                                log: Callable[[str], None] = lambda message: None) -> FeatureClassifier:
    """Returns a feature network trained on data set `data` (a folder or an open one) resized to `shape`, its features
    normalised by `normalization` (stored with the network)."""
    dataset = open_data(data) if isinstance(data, (str, bytes)) or hasattr(data, "__fspath__") else data
    if len(dataset) < 10:
        raise InputError(f"holds {len(dataset)} examples; a feature network needs at least 10", dataset.root)
    normalizer = dataset_normalizer(dataset, kind=normalization)
    rng = np.random.default_rng(options.seed)
    count = min(len(dataset), options.max_examples)
    chosen = np.sort(rng.choice(len(dataset), count, replace=False))
    x = normalised_examples(dataset, chosen, normalizer, shape)[:, 0]  # (n, H, W)
    labels = dataset.labels[chosen] if len(dataset.class_names) >= 2 else None
    log(f"training a {'supervised' if labels is not None else 'contrastive'} feature network on {count} "
        f"examples of {x.shape[1]}x{x.shape[2]} from {dataset.root}")
    classifier = train_classifier(x, labels, list(dataset.class_names), options, normalizer=normalizer.to_dict(),
                                  log=log)
    classifier.training.update(data=str(dataset.root), data_shape=[len(dataset), *dataset.shape],
                               normalization=normalization)
    return classifier
