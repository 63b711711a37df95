"""Mel-spectrogram autoencoder: residual Conv1d encoder/decoder, optional VAE."""

from spectrogen.models.autoencoder.network import MelAutoencoder, kl_divergence

__all__ = ["MelAutoencoder", "kl_divergence"]
