"""Mel-spectrogram autoencoder: residual Conv1d encoder/decoder (`network`), optional VAE, its training `method`."""
