"""Model families, one registry: `MODELS.get(name)` gives the TrainingMethod subclass."""

from spectrogen.models.registry import MODELS, build_method

__all__ = ["MODELS", "build_method"]
