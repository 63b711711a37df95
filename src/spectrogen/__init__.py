"""spectrogen: generative models of audio spectrograms."""

__version__ = "0.1.0"
