"""The mel autoencoder as a training method: MSE + L1 (+ KL) loss, AdamW, cosine annealing, clipping.

Registered as ``autoencoder`` in `spectrogen.models.MODELS`. The network is built for
`DataInfo.shape` (C, F, T), e.g. (1, 128, 256), with `model.latent_dim` as the bottleneck size
(the `autoencoder` preset uses 128; the global default of `model.latent_dim` is 100).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional

import torch
import torch.nn.functional as F

from spectrogen.config.schema import ExperimentConfig
from spectrogen.errors import SpectrogenError
from spectrogen.models.autoencoder.feature_space import FeatureSpace
from spectrogen.models.autoencoder.latent_gaussian import LatentGaussianFit
from spectrogen.models.autoencoder.network import MelAutoencoder, kl_divergence
from spectrogen.models.autoencoder.run_outputs import AUDIO_EXAMPLES, SHOWN_EXAMPLES, write_run_outputs
from spectrogen.models.registry import MODELS
from spectrogen.spectral.convergence import spectral_convergence
from spectrogen.models.method import fused_optimizer
from spectrogen.data.info import Batch, DataInfo
from spectrogen.models.method import TrainingMethod

_NOT_LOOKED_UP = object()


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


def build_scheduler(config: ExperimentConfig, optimizer: torch.optim.Optimizer) -> Optional[Any]:
    """Returns the cosine schedule over `training.epochs` when `training.lr_schedule` is cosine, else None.

    `plateau` needs nothing here: the trainer halves every learning rate itself when the epoch
    statistic stops improving.
    """
    if config.training.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.training.epochs)
    return None


@MODELS.register("autoencoder")
class AutoencoderMethod(TrainingMethod):
    """Trains `MelAutoencoder` to reconstruct its input; samples from the prior (VAE) or a fitted Gaussian."""

    name = "autoencoder"
    sampling_networks = ("autoencoder",)
    uses_validation = True
    best_statistic = "val_loss"

    def __init__(self, config: ExperimentConfig, info: DataInfo, device: torch.device):
        super().__init__(config, info, device)
        self.network = build_network(config, tuple(info.shape)).to(device)
        self.networks["autoencoder"] = self.network
        training = config.training
        self.optimizers["autoencoder"] = torch.optim.AdamW(
            self.network.parameters(),
            lr=training.learning_rate,
            betas=(training.beta1, training.beta2),
            weight_decay=training.weight_decay,
            **fused_optimizer(device),
        )
        scheduler = build_scheduler(config, self.optimizers["autoencoder"])
        if scheduler is not None:
            self.schedulers["autoencoder"] = scheduler
        section = config.model.autoencoder
        self.weights = {"mse": section.mse_weight, "l1": section.l1_weight, "kl": section.kl_weight}
        self.max_grad_norm = training.grad_clip if training.grad_clip is not None else math.inf
        self.latents = LatentGaussianFit(config.model.latent_dim, device)
        self.griffin_lim_iterations = config.output.griffin_lim_iterations
        self._examples: Optional[torch.Tensor] = None  # (k, C, F, T) shown in figures and .wav files
        self._examples_are_validation = False
        self._space: Any = _NOT_LOOKED_UP

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
        optimizer = self.optimizers["autoencoder"]
        scaler = self.grad_scaler("autoencoder")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(terms["loss"]).backward()
        scaler.unscale_(optimizer)  # clip the true gradients, not the loss-scaled ones
        # with no clipping configured the norm is still measured (max_norm = inf clips nothing)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.network.parameters(), self.max_grad_norm)
        scaler.step(optimizer)
        scaler.update()
        self.latents.update(mean)
        statistics = {key: value.detach() for key, value in terms.items()}
        statistics["grad_norm"] = grad_norm.detach()
        return statistics

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
        space = self.feature_space
        if space is not None and space.audible:
            reference, estimate = space.magnitudes(x), space.magnitudes(reconstruction)  # (B, F, T)
            # the whole batch as one matrix: one silent example must not make the figure infinite
            frames = reference.shape[-1]
            statistics["spectral_convergence"] = spectral_convergence(reference.reshape(-1, frames),
                                                                      estimate.reshape(-1, frames))
        return statistics

    def validation_summary(self) -> dict[str, float]:
        """Returns PESQ and STOI of the first held-out examples' Griffin-Lim audio, where installed.

        Reference and estimate are both Griffin-Lim resyntheses from the same initial phases (the
        data set keeps spectrograms, not audio), so the figures measure the autoencoder alone.
        """
        from spectrogen.metrics.reconstruction import pesq_score, speech_packages_available, stoi_score

        space = self.feature_space
        available = speech_packages_available()
        if self._examples is None or space is None or not space.audible or not any(available.values()):
            return {}
        originals = self._examples[:AUDIO_EXAMPLES]
        reference = space.audio(space.features(originals), self.griffin_lim_iterations, seed=0)
        estimate = space.audio(space.features(self.reconstruct(originals)), self.griffin_lim_iterations, seed=0)
        rate = space.representation.sample_rate
        summary = {}
        for name, package, score in (("pesq", "pesq", pesq_score), ("stoi", "pystoi", stoi_score)):
            if available[package]:
                try:
                    summary[name] = score(reference, estimate, rate)
                except RuntimeError:  # PESQ refuses clips it finds no speech-like activity in
                    summary[name] = math.nan
        return summary

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
        for scheduler in self.schedulers.values():
            scheduler.step()

    # --- inference ------------------------------------------------------------------------------
    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the eval-mode (deterministic) reconstruction of `x`, (B, C, F, T) -> (B, C, F, T)."""
        was_training = self.network.training
        self.network.eval()
        try:
            reconstruction, _, _ = self.network(x.to(self.device))
        finally:
            self.network.train(was_training)
        return reconstruction

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the latent means (B, D) of spectrograms (B, C, F, T)."""
        was_training = self.network.training
        self.network.eval()
        try:
            mean, _ = self.network.encode(x.to(self.device))
        finally:
            self.network.train(was_training)
        return mean

    @torch.no_grad()
    def sample(self, n: int, *, generator: Optional[torch.Generator] = None,
               labels: Optional[torch.Tensor] = None, **options: Any) -> torch.Tensor:
        """Returns `n` decoded draws (n, C, F, T): from N(0, I) when variational, else from the
        Gaussian fitted to the last epoch's training latents (standard normal before the first epoch)."""
        was_training = self.network.training
        self.network.eval()
        try:
            return self.network.decode(self.network.prior_latents(n, generator))
        finally:
            self.network.train(was_training)

    # --- run outputs ----------------------------------------------------------------------------
    @property
    def feature_space(self) -> Optional[FeatureSpace]:
        """The data set's normaliser and representation (read from `data.path` on first use), or None."""
        if self._space is _NOT_LOOKED_UP:
            self._space = None
            if self.config.data.path:
                try:
                    self._space = FeatureSpace.of_dataset(self.config.data.path, self.config.data.normalization,
                                                          self.device)
                except SpectrogenError:
                    pass  # figures then stay in normalised units and no audio is made
        return self._space

    @feature_space.setter
    def feature_space(self, space: Optional[FeatureSpace]) -> None:
        self._space = space

    def _keep_examples(self, x: torch.Tensor, *, from_validation: bool) -> None:
        """Keeps the first examples of the held-out split (else of training) for figures and audio."""
        if self._examples_are_validation or (self._examples is not None and not from_validation):
            return
        # the validation split is read in a fixed order, so its first batch is the same every epoch
        self._examples = x[:SHOWN_EXAMPLES].detach().clone()
        self._examples_are_validation = from_validation

    def extra_plots(self, plots_dir: Any, history: list[dict[str, float]]) -> None:
        """Writes plots/training_curves.png, plots/spectrogram_comparison.png and reconstructions/ (see run_outputs)."""
        originals = self._examples
        reconstructions = self.reconstruct(originals) if originals is not None else None
        write_run_outputs(Path(plots_dir).parent, history, originals, reconstructions, self.feature_space,
                          self.griffin_lim_iterations)

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
