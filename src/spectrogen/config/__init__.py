"""Typed configuration: schema, presets, loading with overrides."""

from spectrogen.config.loader import build_config, config_to_dict, load_config, parse_override
from spectrogen.config.schema import ExperimentConfig

__all__ = ["ExperimentConfig", "build_config", "config_to_dict", "load_config", "parse_override"]
