"""The mel autoencoder as a training method: MSE + L1 (+ KL) loss, AdamW, cosine annealing, clipping.

The network is built for `DataInfo.shape` (C, F, T), e.g. (1, 128, 256), with `model.latent_dim`
as the bottleneck size.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F

from spectrogen.config.schema import ExperimentConfig
from spectrogen.data.info import Batch, DataInfo
from spectrogen.models.autoencoder.latent_gaussian import LatentGaussianFit
from spectrogen.models.autoencoder.network import MelAutoencoder, kl_divergence
from spectrogen.models.method import TrainingMethod, eval_mode
from spectrogen.models.registry import MODELS
from spectrogen.spectral.convergence import spectral_convergence

SHOWN_EXAMPLES = 4  # held-out examples kept for the run's figures and audio (report/autoencoder_figures.py)


def build_network(config: ExperimentConfig, shape: tuple[int, int, int]) -> MelAutoencoder:
    """Returns the (untrained) autoencoder network that `config` describes for examples of `shape` (C, F, T)."""
    section = config.model.autoencoder
    return MelAutoencoder(
        shape,
        hidden=section.hidden_channels,
        blocks=section.blocks,
        latent_dim=config.model.latent_dim,
        dropout=section.dropout,
        variational=section.variational,
    )


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
        self.network = build_network(config, tuple(info.shape)).to(device)
        self.networks["autoencoder"] = self.network
        if sampling_only:  # `build_sampler`: the network alone
            return
        self.add_optimizer("autoencoder", torch.optim.AdamW, config.training.learning_rate)
        section = config.model.autoencoder
        self.weights = {"mse": section.mse_weight, "l1": section.l1_weight, "kl": section.kl_weight}
        self.grad_clip = config.training.grad_clip
        self.latents = LatentGaussianFit(config.model.latent_dim, device)
        self.examples: Optional[torch.Tensor] = None  # (k, C, F, T) shown in figures and .wav files
        self.examples_are_validation = False

    # --- training -------------------------------------------------------------------------------
    def losses(self, x: torch.Tensor, reconstruction: torch.Tensor, mean: torch.Tensor,
               log_variance: Optional[torch.Tensor]) -> dict[str, torch.Tensor]:
        """Returns the weighted total `loss` and its terms `mse`, `l1`, `kl` (0-d tensors)."""
        mse = F.mse_loss(reconstruction, x)
        l1 = F.l1_loss(reconstruction, x)
        kl = kl_divergence(mean, log_variance) if log_variance is not None else mse.new_zeros(())
        loss = self.weights["mse"] * mse + self.weights["l1"] * l1 + self.weights["kl"] * kl
        return {"loss": loss, "mse": mse, "l1": l1, "kl": kl}

    def train_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        x = batch.x  # (B, C, F, T), normalised
        self._keep_examples(x, from_validation=False)
        with self.autocast():
            reconstruction, mean, log_variance = self.step_network("autoencoder")(x)
        terms = self.losses(x, reconstruction.float(), mean.float(),
                            None if log_variance is None else log_variance.float())
        grad_norm = self.optimizer_step("autoencoder", terms["loss"], self.grad_clip)
        self.latents.update(mean)
        return {**{key: value.detach() for key, value in terms.items()}, "grad_norm": grad_norm}

    def validation_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Returns the loss terms and MSE, MAE, cosine similarity (normalised space) and spectral
        convergence (magnitudes, when the data came from audio) of one held-out batch (0-d tensors)."""
        x = batch.x  # (B, C, F, T), normalised
        self._keep_examples(x, from_validation=True)
        with self.autocast():
            reconstruction, mean, log_variance = self.network(x)
        reconstruction = reconstruction.float()
        terms = self.losses(x, reconstruction, mean.float(), None if log_variance is None else log_variance.float())
        statistics = {"loss": terms["loss"], "mse": terms["mse"], "mae": terms["l1"], "kl": terms["kl"],
                      "cosine_similarity": F.cosine_similarity(reconstruction.flatten(1), x.flatten(1), dim=1).mean()}
        space = self.mapping
        if space is not None and space.audible:
            reference, estimate = space.magnitudes(x), space.magnitudes(reconstruction)  # (B, F, T)
            # the whole batch as one matrix: one silent example must not make the figure infinite
            frames = reference.shape[-1]
            statistics["spectral_convergence"] = spectral_convergence(reference.reshape(-1, frames),
                                                                      estimate.reshape(-1, frames))
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

    # --- inference ------------------------------------------------------------------------------
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

    # --- what the run's figures show ---------------------------------------------------------------
    def _keep_examples(self, x: torch.Tensor, *, from_validation: bool) -> None:
        """Keeps the first examples of the held-out split (else of training) for figures and audio."""
        if self.examples_are_validation or (self.examples is not None and not from_validation):
            return
        # the validation split is read in a fixed order, so its first batch is the same every epoch
        self.examples = x[:SHOWN_EXAMPLES].detach().clone()
        self.examples_are_validation = from_validation

    # --- persistence ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        # the half-collected latent sums, so that a run resumed mid-epoch fits the same Gaussian
        state["latent_fit"] = self.latents.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any], *, networks_only: bool = False) -> None:
        super().load_state_dict(state, networks_only=networks_only)
        if not networks_only and "latent_fit" in state:
            self.latents.load_state_dict(state["latent_fit"])
