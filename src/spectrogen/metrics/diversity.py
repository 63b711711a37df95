"""SSIM, MS-SSIM, and diversity as mean pairwise (MS-)SSIM within a set: a collapsed generator gives near-identical
pairs (Odena et al. 2017); divided by the same figure of real data, it means the same for every data set."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F

# Wang et al. (2003): weights of the five scales of MS-SSIM, finest first
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WINDOW_SIZE = 11
WINDOW_SIGMA = 1.5
K1, K2 = 0.01, 0.03


def _band(size: int, window: torch.Tensor) -> torch.Tensor:
    # (size - k + 1, size) matrix whose rows are the window shifted by one: a "valid" 1-D filter as a
    # matrix product, which BLAS runs much faster than a one-channel convolution
    k = len(window)
    rows = size - k + 1
    columns = torch.arange(rows)[:, None] + torch.arange(k)[None, :]
    return torch.zeros(rows, size, dtype=window.dtype).scatter_(1, columns, window.expand(rows, k))


def _filter(x: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    # separable Gaussian blur without padding ("valid"), as in the reference implementation:
    # (B, 1, H, W) -> (B, 1, H - k + 1, W - k + 1)
    rows, columns = _band(x.shape[-2], window).to(x.device), _band(x.shape[-1], window).to(x.device)
    return rows @ x @ columns.T


def _ssim_and_contrast(x: torch.Tensor, y: torch.Tensor, data_range: float) -> tuple[torch.Tensor, torch.Tensor]:
    # x, y: (B, 1, H, W) -> SSIM (B,) and its contrast-structure part (B,)
    # images smaller than the usual 11-pixel window get the largest odd window that fits
    size = min(WINDOW_SIZE, x.shape[-2], x.shape[-1])
    size = size if size % 2 else size - 1
    sigma = WINDOW_SIGMA if size == WINDOW_SIZE else size / 7
    window = torch.exp(-((torch.arange(size, dtype=torch.float64) - (size - 1) / 2) ** 2) / (2 * sigma ** 2))
    window = (window / window.sum()).float().to(x.device)
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    mu_x, mu_y = _filter(x, window), _filter(y, window)
    var_x = _filter(x * x, window) - mu_x ** 2
    var_y = _filter(y * y, window) - mu_y ** 2
    cov = _filter(x * y, window) - mu_x * mu_y
    contrast = (2 * cov + c2) / (var_x + var_y + c2)
    luminance = (2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1)
    return (luminance * contrast).mean(dim=(1, 2, 3)), contrast.mean(dim=(1, 2, 3))


def _as_batch(x) -> torch.Tensor:
    # (B, C, H, W) or (B, H, W), array or tensor -> (B, C, H, W) float tensor
    t = torch.as_tensor(x, dtype=torch.float32)
    if t.ndim == 3:
        t = t.unsqueeze(1)
    if t.ndim != 4:
        raise ValueError(f"expected images (B, C, H, W) or (B, H, W), got shape {tuple(t.shape)}")
    return t


def _as_images(x) -> torch.Tensor:
    # channels are compared separately, as extra single-channel images: (B * C, 1, H, W)
    return _as_batch(x).flatten(0, 1)[:, None]


def ssim(x, y, data_range: float = 2.0) -> torch.Tensor:
    """Returns the SSIM (Gaussian 11x11 window) of each pair of images (B,), x and y (B, C, H, W) or (B, H, W);
    `data_range` is max - min of the values (2 for data normalised to [-1, 1])."""
    a, b = _as_images(x), _as_images(y)
    value, _ = _ssim_and_contrast(a, b, data_range)
    return value.view(len(x), -1).mean(dim=1)


def ms_ssim_levels(height: int, width: int) -> int:
    """Returns how many MS-SSIM scales fit an image: halve while the smaller side stays >= 11 pixels, at most 5."""
    levels, side = 1, min(height, width)
    while levels < len(MS_SSIM_WEIGHTS) and side // 2 >= WINDOW_SIZE:
        side //= 2
        levels += 1
    return levels


def ms_ssim(x, y, data_range: float = 2.0) -> torch.Tensor:
    """Returns the multi-scale SSIM of each pair of images (B,), with as many scales as the size allows (the
    first weights, renormalised); negative per-scale values are clipped to 0 before the fractional powers."""
    a, b = _as_images(x), _as_images(y)
    levels = ms_ssim_levels(a.shape[-2], a.shape[-1])
    weights = torch.tensor(MS_SSIM_WEIGHTS[:levels])
    weights = weights / weights.sum()
    result = torch.ones(len(a))
    for level in range(levels):
        value, contrast = _ssim_and_contrast(a, b, data_range)
        last = level == levels - 1
        result = result * (value if last else contrast).clamp(min=0) ** weights[level]
        if not last:
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    return result.view(len(x), -1).mean(dim=1)


def random_pairs(n: int, count: int, seed: int = 0) -> np.ndarray:
    """Returns up to `count` distinct index pairs (i, j), i < j < n, drawn at random, shape (P, 2)."""
    total = n * (n - 1) // 2
    if total == 0:
        raise ValueError("pairwise similarity needs at least 2 samples")
    rng = np.random.default_rng(seed)
    if total <= count:
        i, j = np.triu_indices(n, k=1)
        return np.stack([i, j], axis=1)
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < count:
        i, j = rng.integers(0, n, size=(2, count))
        pairs.update((min(a, b), max(a, b)) for a, b in zip(i.tolist(), j.tolist()) if a != b)
    return np.array(sorted(pairs)[:count])


def mean_pairwise_similarity(images, *, pairs: int = 250, multiscale: bool = True, data_range: float = 2.0,
                             seed: int = 0, batch_size: int = 256) -> float:
    """Returns the mean (MS-)SSIM over random pairs of distinct images of one set (N, C, H, W)."""
    x = _as_batch(images)
    index = torch.as_tensor(random_pairs(len(x), pairs, seed))
    measure = ms_ssim if multiscale else ssim
    values = [measure(x[chunk[:, 0]], x[chunk[:, 1]], data_range) for chunk in index.split(batch_size)]
    return float(torch.cat(values).mean())


@dataclass
class DiversityResult:
    """Mean pairwise similarities of generated and real sets; diversity = 1 - similarity."""

    ssim_fake: float
    ssim_real: float
    ms_ssim_fake: Optional[float]  # None where the images are too small for two scales
    ms_ssim_real: Optional[float]

    @property
    def ratio(self) -> float:
        """Diversity of the generated set relative to real data: near 1 is healthy, near 0 is collapse."""
        fake = self.ms_ssim_fake if self.ms_ssim_fake is not None else self.ssim_fake
        real = self.ms_ssim_real if self.ms_ssim_real is not None else self.ssim_real
        return (1.0 - fake) / max(1.0 - real, 1e-12)

    def as_dict(self) -> dict[str, float]:
        values = {k: v for k, v in asdict(self).items() if v is not None}
        values["diversity_ratio"] = self.ratio
        return values


def diversity(real, fake, *, pairs: int = 250, data_range: float = 2.0, seed: int = 0,
              real_similarity: Optional[Callable[[bool], float]] = None) -> DiversityResult:
    """Returns the mean pairwise SSIM (and MS-SSIM where two scales fit) of `fake` and of `real`, (N, C, H, W);
    `real_similarity(multiscale)`, when given, stands for `real` (figures computed once elsewhere)."""
    def of(images) -> Callable[[bool], float]:
        return lambda multiscale: mean_pairwise_similarity(images, pairs=pairs, multiscale=multiscale,
                                                           data_range=data_range, seed=seed)

    of_fake, of_real = of(fake), real_similarity or of(real)
    multiscale = ms_ssim_levels(*np.shape(fake)[-2:]) >= 2
    return DiversityResult(of_fake(False), of_real(False), of_fake(True) if multiscale else None,
                           of_real(True) if multiscale else None)
