"""The mel autoencoder as a training method (MSE + L1 (+ KL) loss, AdamW, cosine annealing, clipping), and the
Gaussian fitted to each epoch's latent codes that the plain autoencoder samples from."""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F

from spectrogen.config.schema import ExperimentConfig
from spectrogen.data.info import Batch, DataInfo
from spectrogen.models.autoencoder.network import MelAutoencoder, kl_divergence
from spectrogen.models.method import TrainingMethod, eval_mode
from spectrogen.models.registry import MODELS
from spectrogen.spectral.stft import spectral_convergence

SHOWN_EXAMPLES = 4  # held-out examples kept for the run's figures and audio (report/autoencoder_figures.py)
# added to the covariance diagonal so that a rank-deficient epoch (fewer examples than latent dimensions, or
# collapsed dimensions) still has a Cholesky factor
_JITTER = 1e-5


class LatentGaussianFit:
    """Sums latent codes (B, D) on the device (no host sync in the step); returns their mean and Cholesky factor."""

    def __init__(self, latent_dim: int, device: torch.device):
        self.latent_dim = latent_dim
        self.device = device
        self.reset()

    def reset(self) -> None:
        # float64 sums: an epoch of thousands of codes loses precision in float32 (MPS has no float64)
        self.dtype = torch.float32 if self.device.type == "mps" else torch.float64
        self.count = torch.zeros((), dtype=self.dtype, device=self.device)
        self.total = torch.zeros(self.latent_dim, dtype=self.dtype, device=self.device)
        self.outer = torch.zeros(self.latent_dim, self.latent_dim, dtype=self.dtype, device=self.device)

    @torch.no_grad()
    def update(self, codes: torch.Tensor) -> None:
        codes = codes.detach().to(self.dtype)  # (B, D)
        self.count += codes.shape[0]
        self.total += codes.sum(dim=0)
        self.outer += codes.T @ codes

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"count": self.count, "total": self.total, "outer": self.outer}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.count, self.total, self.outer = (state[k].to(self.device, self.dtype) for k in ("count", "total", "outer"))

    def fitted(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Returns (mean (D,), lower Cholesky factor (D, D)) in float32, or None before two codes were seen."""
        count = float(self.count)
        if count < 2:
            return None
        mean = self.total / count
        covariance = (self.outer - count * torch.outer(mean, mean)) / (count - 1)
        covariance = 0.5 * (covariance + covariance.T)
        eye = torch.eye(self.latent_dim, dtype=self.dtype, device=self.device)
        scale = covariance.diagonal().mean().clamp_min(1.0)
        factor, info = torch.linalg.cholesky_ex(covariance + _JITTER * scale * eye)
        if int(info) != 0:  # numerically indefinite: fall back to the diagonal
            factor = torch.diag(covariance.diagonal().clamp_min(0.0).add(_JITTER * scale).sqrt())
        return mean.float(), factor.float()


@MODELS.register("autoencoder")
class AutoencoderMethod(TrainingMethod):
    """Trains `MelAutoencoder` to reconstruct its input; samples from the prior (VAE) or a fitted Gaussian."""

    name = "autoencoder"
    sampling_networks = ("autoencoder",)
    uses_validation = True
    best_statistic = "val_loss"

    def __init__(self, config: ExperimentConfig, info: DataInfo, device: torch.device, *,
                 sampling_only: bool = False):
        super().__init__(config, info, device)
        section = config.model.autoencoder
        self.network = MelAutoencoder(tuple(info.shape), hidden=section.hidden_channels, blocks=section.blocks,
                                      latent_dim=config.model.latent_dim, dropout=section.dropout,
                                      variational=section.variational).to(device)
        self.networks["autoencoder"] = self.network
        if sampling_only:
            return
        self.add_optimizer("autoencoder", torch.optim.AdamW, config.training.learning_rate)
        self.weights = {"mse": section.mse_weight, "l1": section.l1_weight, "kl": section.kl_weight}
        self.grad_clip = config.training.grad_clip
        self.latents = LatentGaussianFit(config.model.latent_dim, device)
        self.examples: Optional[torch.Tensor] = None  # (k, C, F, T) shown in figures and .wav files
        self.examples_are_validation = False

    def losses(self, x: torch.Tensor, reconstruction: torch.Tensor, mean: torch.Tensor,
               log_variance: Optional[torch.Tensor]) -> dict[str, torch.Tensor]:
        """Returns the weighted total `loss` and its terms `mse`, `l1`, `kl` (0-d tensors), in float32."""
        mse = F.mse_loss(reconstruction.float(), x)
        l1 = F.l1_loss(reconstruction.float(), x)
        kl = kl_divergence(mean.float(), log_variance.float()) if log_variance is not None else mse.new_zeros(())
        loss = self.weights["mse"] * mse + self.weights["l1"] * l1 + self.weights["kl"] * kl
        return {"loss": loss, "mse": mse, "l1": l1, "kl": kl}

    def train_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        x = batch.x  # (B, C, F, T), normalised
        self._keep_examples(x, from_validation=False)
        with self.autocast():
            reconstruction, mean, log_variance = self.step_network("autoencoder")(x)
        terms = self.losses(x, reconstruction, mean, log_variance)
        grad_norm = self.optimizer_step("autoencoder", terms["loss"], self.grad_clip)
        self.latents.update(mean)
        return {**{key: value.detach() for key, value in terms.items()}, "grad_norm": grad_norm}

    def validation_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Returns the loss terms, MSE, MAE and cosine similarity (normalised space) and, for audio data, the
        spectral convergence of the magnitudes, of one held-out batch (0-d tensors)."""
        x = batch.x  # (B, C, F, T), normalised
        self._keep_examples(x, from_validation=True)
        with self.autocast():
            reconstruction, mean, log_variance = self.network(x)
        reconstruction = reconstruction.float()
        terms = self.losses(x, reconstruction, mean, log_variance)
        statistics = {"loss": terms["loss"], "mse": terms["mse"], "mae": terms["l1"], "kl": terms["kl"],
                      "cosine_similarity": F.cosine_similarity(reconstruction.flatten(1), x.flatten(1), dim=1).mean()}
        if self.mapping is not None and self.mapping.audible:
            # the magnitudes (B, F, T) as one matrix: one silent example must not make the figure infinite
            reference, estimate = (self.mapping.magnitudes(v).flatten(0, -2) for v in (x, reconstruction))
            statistics["spectral_convergence"] = spectral_convergence(reference, estimate)
        return statistics

    def end_epoch(self, epoch: int, statistics: dict[str, float]) -> None:
        """Refits the sampling Gaussian to this epoch's latents and steps the learning-rate schedule."""
        # under several processes each saw its share of the epoch: fit the Gaussian to all of them
        self.sum_over_processes(self.latents.count, self.latents.total, self.latents.outer)
        fitted = self.latents.fitted()
        if fitted is not None:
            mean, factor = fitted
            self.network.latent_mean.copy_(mean)
            self.network.latent_scale_tril.copy_(factor)
        self.latents.reset()
        super().end_epoch(epoch, statistics)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the eval-mode (deterministic) reconstruction of `x`, (B, C, F, T) -> (B, C, F, T)."""
        with eval_mode(self.network):
            return self.network(x.to(self.device))[0]

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the latent means (B, D) of spectrograms (B, C, F, T)."""
        with eval_mode(self.network):
            return self.network.encode(x.to(self.device))[0]

    @torch.no_grad()
    def sample(self, n: int, *, generator: Optional[torch.Generator] = None,
               labels: Optional[torch.Tensor] = None, **options: Any) -> torch.Tensor:
        """Returns `n` decoded draws (n, C, F, T): from N(0, I) when variational, else from the
        Gaussian fitted to the last epoch's training latents (standard normal before the first epoch)."""
        with eval_mode(self.network):
            return self.network.decode(self.network.prior_latents(n, generator))

    def _keep_examples(self, x: torch.Tensor, *, from_validation: bool) -> None:
        """Keeps the first examples of the held-out split (else of training) for figures and audio."""
        if self.examples_are_validation or (self.examples is not None and not from_validation):
            return
        # the validation split is read in a fixed order, so its first batch is the same every epoch
        self.examples = x[:SHOWN_EXAMPLES].detach().clone()
        self.examples_are_validation = from_validation

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        # the half-collected latent sums, so that a run resumed mid-epoch fits the same Gaussian
        state["latent_fit"] = self.latents.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any], *, networks_only: bool = False) -> None:
        super().load_state_dict(state, networks_only=networks_only)
        if not networks_only and "latent_fit" in state:
            self.latents.load_state_dict(state["latent_fit"])
