"""Health and convergence during training: the NaN policy, loss stability, plateaus, and the mode-collapse signal,
which compares the 8x8 layouts of fixed samples with the real data's (pixel distances call one texture diverse)."""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import torch

from spectrogen.config.schema import MonitorConfig
from spectrogen.errors import TrainingDiverged
from spectrogen.models.conditional import balanced_labels
from spectrogen.models.method import TrainingMethod

# non-finite values in this many logging intervals in a row mean the policy cannot repair the run
MAX_CONSECUTIVE_EVENTS = 5
PLATEAU_MIN_IMPROVEMENT = 1e-4  # relative


def cpu_copy(state: Any) -> Any:
    """Returns a deep copy of a (nested) state dict with every tensor cloned to the CPU."""
    if isinstance(state, torch.Tensor):
        return state.detach().to("cpu", copy=True)
    if isinstance(state, dict):
        return {key: cpu_copy(value) for key, value in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(cpu_copy(value) for value in state)
    return state


class HealthMonitor:
    """Applies the NaN policy when a logging interval holds non-finite statistics."""

    def __init__(self, method: TrainingMethod, policy: str, advice: str = "", tolerated: tuple[str, ...] = ()):
        self.method = method
        self.policy = policy
        self.advice = advice
        # statistics whose non-finite values are expected, by key prefix: under fp16 loss scaling an
        # overflowing gradient norm is how the scaler notices it must skip the step and rescale
        self.tolerated = tolerated
        self.total_events = 0
        self.epoch_events = 0
        self._consecutive = 0
        self._snapshot: Optional[dict[str, Any]] = None

    def remember(self) -> None:
        """Keeps a CPU copy of the method's state as the last good one."""
        self._snapshot = cpu_copy(self.method.state_dict())

    def check(self, keys: Sequence[str], values: np.ndarray, where: str) -> Optional[str]:
        """Returns None when `values` (steps, keys) are finite, else applies the policy and says what it did;
        raises TrainingDiverged for `stop`, or after MAX_CONSECUTIVE_EVENTS failed repairs in a row."""
        bad = [key for key, column in zip(keys, values.T)
               if not np.isfinite(column).all() and not key.startswith(self.tolerated)]
        if not bad:
            self._consecutive = 0
            return None
        self.total_events += 1
        self.epoch_events += 1
        self._consecutive += 1
        found = f"non-finite {', '.join(bad)} {where}"
        if self.policy == "stop":
            raise TrainingDiverged(f"{found} (monitor.nan_policy=stop). {self.advice}".strip())
        if self._consecutive >= MAX_CONSECUTIVE_EVENTS:
            raise TrainingDiverged(f"{found}, {self._consecutive} logging intervals in a row despite "
                                   f"monitor.nan_policy={self.policy}. {self.advice}".strip())
        if self.policy == "skip":
            finite = [torch.isfinite(p).all() for net in self.method.networks.values() for p in net.parameters()]
            if not finite or bool(torch.stack(finite).all()):  # the weights are fine: one host synchronisation
                return f"{found}: left those steps out of the statistics"
            action = "the weights became non-finite too, so the last good state was restored"
        else:
            action = "restored the last good state"
        if self._snapshot is None:
            raise TrainingDiverged(f"non-finite values before any good state was kept. {self.advice}".strip())
        self.method.load_state_dict(cpu_copy(self._snapshot))
        if self.policy == "lower_lr":
            self.method.scale_learning_rates(0.5)
            action += " and halved the learning rates"
        return f"{found}: {action}"

    def state_dict(self) -> dict[str, int]:
        return {"total_events": self.total_events}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.total_events = int(state.get("total_events", 0))


def primary_loss(means: Mapping[str, float]) -> Optional[str]:
    """Returns the statistic that stands for "the loss": the generator's for GANs, else `loss`."""
    return next((key for key in ("loss_g", "loss", *means) if key in means and key.startswith("loss")), None)


STRUCTURE_GRID = 8  # cells per side of the grid that the collapse signal compares
CLASS_SAMPLES = 16  # per class for the per-class signal; fewer make real data look collapsed (benchmarks/README.md)


def mean_pairwise_distance(x: torch.Tensor) -> float:
    """Returns the mean Euclidean distance between the examples of `x` (n, ...), n >= 2."""
    flat = torch.as_tensor(x).reshape(x.shape[0], -1).float()
    return float(torch.pdist(flat).mean())


def structure_distance(x: torch.Tensor) -> float:
    """Returns the mean distance between the layouts (at most STRUCTURE_GRID cells a side) of `x` (n, C, H, W)."""
    x = torch.as_tensor(x).float()
    return mean_pairwise_distance(torch.nn.functional.adaptive_avg_pool2d(
        x, (min(STRUCTURE_GRID, x.shape[-2]), min(STRUCTURE_GRID, x.shape[-1]))))


class ConvergenceMonitor:
    """Loss stability, mode collapse and plateau detection, from one epoch's figures at a time."""

    def __init__(self, config: MonitorConfig, plateau: bool):
        self.config = config
        self.plateau_enabled = plateau
        self.recent: list[float] = []
        self.plateau_best = math.inf
        self.plateau_wait = 0
        self.real_distance: Optional[float] = None
        self.real_class_distances: dict[int, float] = {}  # class -> layout distance of its real examples

    def stability(self, means: Mapping[str, float]) -> Optional[float]:
        """Returns std / mean(|loss|) over the last `stability_window` epochs (None until full); unlike the
        coefficient of variation, it stays meaningful for Wasserstein losses that change sign."""
        key = primary_loss(means)
        if key is None or not math.isfinite(means[key]):
            return None
        self.recent = (self.recent + [means[key]])[-self.config.stability_window:]
        if len(self.recent) < self.config.stability_window:
            return None
        values = np.asarray(self.recent)
        scale = np.abs(values).mean()
        return float(values.std() / scale) if scale > 0 else 0.0

    def plateau(self, value: Optional[float]) -> bool:
        """Returns True when `value` has not improved for `plateau_patience` epochs (lower the rates)."""
        if not self.plateau_enabled or value is None or not math.isfinite(value):
            return False
        if not math.isfinite(self.plateau_best) or \
                value < self.plateau_best - PLATEAU_MIN_IMPROVEMENT * abs(self.plateau_best):
            self.plateau_best = value
            self.plateau_wait = 0
            return False
        self.plateau_wait += 1
        if self.plateau_wait >= self.config.plateau_patience:
            self.plateau_wait = 0
            return True
        return False

    def diversity(self, samples: torch.Tensor) -> dict[str, float]:
        """Returns diversity_ratio (the samples' layout distance over `real_distance`) and collapse (0/1)."""
        if self.real_distance is None or self.real_distance <= 0 or samples.shape[0] < 2:
            return {}
        ratio = structure_distance(samples.detach().cpu()) / self.real_distance
        return {"diversity_ratio": ratio, "collapse": int(ratio < self.config.collapse_threshold)}

    def class_diversity(self, samples: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
        """Returns class_diversity_ratio (lowest over classes, see `real_class_distances`), alike_class, collapse."""
        if not self.real_class_distances:
            return {}
        samples, labels = samples.detach().cpu(), labels.detach().cpu()
        ratios = {k: structure_distance(samples[labels == k]) / real for k, real in self.real_class_distances.items()
                  if real > 0 and int((labels == k).sum()) >= 2}
        if not ratios:
            return {}
        alike = min(ratios, key=ratios.get)
        return {"class_diversity_ratio": ratios[alike], "alike_class": alike,
                "collapse": int(ratios[alike] < self.config.class_collapse_threshold)}

    def state_dict(self) -> dict[str, Any]:
        return {"recent": list(self.recent), "plateau_best": self.plateau_best, "plateau_wait": self.plateau_wait}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.recent = [float(v) for v in state.get("recent", [])]
        self.plateau_best = float(state.get("plateau_best", math.inf))
        self.plateau_wait = int(state.get("plateau_wait", 0))


class FixedSamples:
    """Draws the samples of sampling epochs, always from the same noise and classes, and measures their collapse
    (with `class_check`, from CLASS_SAMPLES more of each class); the real side is measured once, here."""

    def __init__(self, method: TrainingMethod, data, monitor: ConvergenceMonitor, count: int, seed: int,
                 device: torch.device, class_check: bool):
        self.method, self.monitor, self.count, self.device = method, monitor, count, device
        self.seed = seed * 7919 + 17
        classes = method.info.num_classes if method.conditional else 0
        self.labels = balanced_labels(count, classes, device=device) if classes else None  # (n,)
        self.class_labels = None  # (K * CLASS_SAMPLES,)
        if count >= 2:
            monitor.real_distance = structure_distance(data.examples(data.reference_indices(count)).x.cpu())
        if classes and class_check:
            for k, indices in data.class_reference_indices(CLASS_SAMPLES).items():
                monitor.real_class_distances[k] = structure_distance(data.examples(indices).x.cpu())
            self.class_labels = balanced_labels(CLASS_SAMPLES * classes, classes, device=device)

    def draw(self) -> tuple[torch.Tensor, dict[str, float]]:
        """Returns the samples (n, C, H, W) and the collapse signal's figures; the random streams stay as they were."""
        # sampling must not move the training's random streams, or a resume would diverge
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            generator = torch.Generator(device=self.device).manual_seed(self.seed)
            self.method.train(False)
            try:
                with torch.no_grad():
                    samples = self.method.sample(self.count, generator=generator, labels=self.labels)
                    per_class = None if self.class_labels is None else self.method.sample(
                        len(self.class_labels), generator=generator, labels=self.class_labels)
            finally:
                self.method.train(True)
        figures = self.monitor.diversity(samples)
        if per_class is not None:
            by_class = self.monitor.class_diversity(per_class, self.class_labels)
            figures = {**figures, **by_class, "collapse": max(figures.get("collapse", 0), by_class.get("collapse", 0))}
        return samples, figures


def collapse_text(row: Mapping[str, Any], monitor: Mapping[str, Any], class_names: Sequence[str] = ()) -> str:
    """Returns why `row` (an epoch's statistics with collapse 1) is flagged, naming the figure and its threshold."""
    whole = row.get("diversity_ratio")
    threshold = monitor.get("collapse_threshold")
    if isinstance(whole, (int, float)) and threshold is not None and whole < threshold:
        return (f"the samples look alike: the diversity of their layouts is {whole:.2f} of the real data's, "
                f"below monitor.collapse_threshold={threshold}")
    ratio, alike = row.get("class_diversity_ratio"), row.get("alike_class")
    name = (class_names[int(alike)] if isinstance(alike, (int, float)) and 0 <= int(alike) < len(class_names)
            else f"class {alike}")
    shown = f"{ratio:.2f}" if isinstance(ratio, (int, float)) else "n/a"
    return (f"the samples of {name} look alike: the diversity of their layouts is {shown} of that class's real "
            f"examples', below monitor.class_collapse_threshold={monitor.get('class_collapse_threshold')}")
