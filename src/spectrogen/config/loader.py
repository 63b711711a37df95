"""Load a configuration from a preset name or a JSON file (comments allowed), apply overrides, validate, and fill
what was left as None with the model family's defaults. Each step (a named set of dotted keys and values, like
`--set`) is recorded in `ExperimentConfig.resolved_from`."""

from __future__ import annotations

import json
import re
from contextlib import suppress
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from pydantic import BaseModel, ValidationError

from spectrogen.config.schema import ExperimentConfig
from spectrogen.errors import ConfigError

# default/test/template: the DCGAN set-ups; autoencoder and digits: the mel autoencoder and the diffusion model
PRESETS = ("default", "test", "template", "autoencoder", "digits")

# Per family: the settings of its reference (DCGAN: Radford et al. 2016; SpecGAN: Donahue et al. 2019;
# diffusion and autoencoder: the reference DDPM and mel autoencoder recipes), filling what was left as None.
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "dcgan": {"training.loss": "bce", "training.learning_rate": 2e-4, "training.beta1": 0.5, "training.beta2": 0.999,
              "training.critic_steps": 1, "training.weight_decay": 0.0, "model.batchnorm": True,
              "model.latent_distribution": "normal", "model.upsample": "nearest"},
    "specgan": {"training.loss": "wgan-gp", "training.learning_rate": 1e-4, "training.beta1": 0.5,
                "training.beta2": 0.9, "training.critic_steps": 5, "training.weight_decay": 0.0,
                "model.batchnorm": False, "model.latent_distribution": "uniform", "model.upsample": "nearest"},
    "diffusion": {"training.learning_rate": 2e-4, "training.beta1": 0.9, "training.beta2": 0.999,
                  "training.critic_steps": 1, "training.weight_decay": 0.0, "training.ema_decay": 0.995,
                  "training.grad_clip": 1.0, "model.batchnorm": False, "model.latent_distribution": "normal"},
    "autoencoder": {"training.learning_rate": 1e-3, "training.beta1": 0.9, "training.beta2": 0.999,
                    "training.critic_steps": 1, "training.weight_decay": 1e-4, "training.grad_clip": 1.0,
                    "model.batchnorm": False, "model.latent_distribution": "normal"},
}

# a JSON string (kept as it is), else a comment or a comma before a closing bracket (dropped)
_STRING = r'"(?:\\.|[^"\\])*(?:"|\\?\Z)'
_COMMENT = re.compile(_STRING + r"|//[^\n]*|/\*.*?(?:\*/|\Z)", re.S)
_TRAILING_COMMA = re.compile(_STRING + r"|,(?=\s*[}\]])", re.S)


def strip_json_comments(text: str) -> str:
    """Returns `text` without // line comments, /* block */ comments and trailing commas, strings untouched."""
    def keep_strings(match: re.Match) -> str:
        return match.group() if match.group().startswith('"') else ""

    return _TRAILING_COMMA.sub(keep_strings, _COMMENT.sub(keep_strings, text))


def read_config_file(path: Path) -> dict[str, Any]:
    """Returns the raw mapping in a JSON configuration file (comments and trailing commas allowed)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); a configuration file must be UTF-8 JSON"
                          ) from None
    try:
        data = json.loads(strip_json_comments(text))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the configuration must be a JSON object, not {type(data).__name__}")
    return data


def load_raw(config: str | Path | None = None) -> dict[str, Any]:
    """Returns the raw mapping of a preset name or file path (None: `default`), recorded as its first step."""
    config = "default" if config is None else config
    path = Path(config)
    # a folder named like a preset is no configuration; config_test is the file-style name of `test`
    name = config.removeprefix("config_") if isinstance(config, str) and not path.is_file() else None
    if name in PRESETS:
        folder = resources.files("spectrogen.config") / "presets"
        preset = next(p for p in (folder / f"{name}.json", folder / f"{name}.jsonc") if p.is_file())
        with resources.as_file(preset) as real:
            raw, step = read_config_file(real), f"preset {name}"
    elif path.exists():
        raw, step = read_config_file(path), f"file {path}"
    else:
        raise ConfigError(f"configuration {str(config)!r} is neither a preset ({', '.join(PRESETS)}) "
                          f"nor an existing file")
    _record(raw, step, flat_settings({key: value for key, value in raw.items() if key != "resolved_from"}))
    return raw


def flat_settings(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Returns the leaves of a nested configuration mapping under their dotted keys."""
    leaves: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            leaves.update(flat_settings(value, f"{prefix}{key}."))
        else:
            leaves[f"{prefix}{key}"] = value
    return leaves


def record(steps: dict[str, list[str]], step: str, keys: Iterable[str]) -> None:
    """Records in `steps` (a configuration's resolved_from) that `step` set `keys`; a step named again moves last."""
    keys = list(keys)
    if keys:
        steps[step] = list(dict.fromkeys([*steps.pop(step, []), *keys]))


def value_at(config: Any, key: str) -> Any:
    """Returns the value of the dotted `key` ("training.loss", "model.conditional.base") in `config`."""
    for name in key.split("."):
        config = getattr(config, name)
    return config


def resolve(config: ExperimentConfig) -> ExperimentConfig:
    """Returns a copy of `config` with every None default replaced by its family's value (step `family NAME`)."""
    config = config.model_copy(deep=True)
    model = config.model
    family = model.conditional.base if model.name == "cgan" else model.name  # cgan takes its base's defaults
    filled = {key: value for key, value in FAMILY_DEFAULTS[family].items() if value_at(config, key) is None}
    if config.training.learning_rate_d is None:
        filled["training.learning_rate_d"] = filled.get("training.learning_rate", config.training.learning_rate)
    if config.model.name == "autoencoder" and "lr_schedule" not in config.training.model_fields_set:
        # the autoencoder anneals on a cosine by default; a schedule the user wrote down wins
        filled["training.lr_schedule"] = "cosine"
    for key, value in filled.items():
        section, _, name = key.rpartition(".")
        setattr(value_at(config, section), name, value)
    record(config.resolved_from, f"family {family}", filled)
    return config


def _record(raw: dict[str, Any], step: str, keys: Iterable[str]) -> None:
    steps = raw.setdefault("resolved_from", {})
    if isinstance(steps, dict):  # anything else is left for validation to name
        record(steps, step, keys)


def parse_override(text: str) -> tuple[str, Any]:
    """Returns (dotted key, value) of a `section.key=value` override; values are read as JSON when they can be."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {text!r}: write it as section.key=value, e.g. --set training.epochs=5")
    raw = raw.strip()
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def section_of(key: str) -> Optional[type[BaseModel]]:
    """Returns the section class that the dotted `key` names (e.g. `training`, `model.diffusion`), else None."""
    section: type[BaseModel] = ExperimentConfig
    for part in key.split("."):
        field = section.model_fields.get(part)
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return None
        section = field.annotation
    return section


def section_advice(key: str, value: Any) -> str:
    """Returns what to say when the section `key` was given the plain `value`: how to set one of its keys."""
    fields = list(section_of(key).model_fields)
    example = value if isinstance(value, str) else json.dumps(value) if isinstance(value, (int, float)) else "..."
    return (f"{key} is a section, not a value; set one of its keys, e.g. --set {key}.{fields[0]}={example} "
            f"(keys of {key}: {', '.join(fields)})")


def apply_overrides(raw: dict[str, Any], overrides: Iterable[tuple[str, Any]],
                    step: str = "overrides") -> dict[str, Any]:
    """Returns a copy of `raw` with each dotted key set, recorded as `step`; validation names unknown keys."""
    result = json.loads(json.dumps(raw))
    overrides = list(overrides)
    for key, value in overrides:
        if section_of(key) is not None and not isinstance(value, dict):
            raise ConfigError(f"{key} = {value!r}: {section_advice(key, value)}")
        *sections, name = key.split(".")
        node = result
        for part in sections:
            if node.get(part) is None:
                node[part] = {}
            elif not isinstance(node[part], dict):
                raise ConfigError(f"{key}: {part!r} is a value, not a section")
            node = node[part]
        node[name] = value
    _record(result, step, [key for key, _ in overrides])
    return result


def format_validation_error(error: ValidationError, source: str) -> str:
    """Returns the message of a failed validation: a line per bad key with its value and what to do."""
    lines = [f"invalid configuration ({source}):"]
    for item in error.errors():
        key, value, kind = ".".join(str(p) for p in item["loc"]) or "(top level)", item.get("input"), item["type"]
        message = item["msg"].removeprefix("Value error, ")
        if kind == "extra_forbidden":
            lines.append(f"  {key}: unknown key (value {value!r}); check the spelling against "
                         f"`spectrogen train --config template --print-config`")
            continue
        if kind == "model_type" and section_of(key) is not None:
            message = section_advice(key, value)
        elif kind == "finite_number":
            message = "must be a finite number (inf and nan are not allowed)"
        # a check across several fields of a section names them in its message
        lines.append(f"  {message}" if isinstance(value, dict) and kind == "value_error" else
                     f"  {key} = {value!r}: {message}")
    return "\n".join(lines)


def build_config(raw: Mapping[str, Any], source: str = "configuration") -> ExperimentConfig:
    """Returns the validated, resolved configuration of a raw mapping; raises ConfigError naming each bad key."""
    try:
        config = ExperimentConfig.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None
    return resolve(config)


def load_config(config: str | Path | None = None, overrides: Iterable[tuple[str, Any]] = (), *,
                settings: Iterable[tuple[str, Mapping[str, Any]]] = ()) -> ExperimentConfig:
    """Returns the configuration of a preset or file, then each named set of `settings` ((step name,
    {dotted key: value}) pairs), then `overrides` ((dotted key, value) pairs), each recorded in resolved_from."""
    raw = load_raw(config)
    for step, values in settings:
        raw = apply_overrides(raw, values.items(), step)
    return build_config(apply_overrides(raw, overrides), source=str(config or "default"))


def saved_config(raw: Mapping[str, Any], source: str) -> ExperimentConfig:
    """Returns the configuration a checkpoint saved, as sampling reads it: the model section must be valid (a
    generator is rebuilt from it); any other section this version does not read takes its defaults."""
    kept = {"model": raw.get("model", {})}
    for name, section in raw.items():
        with suppress(ValidationError):
            ExperimentConfig.model_validate({name: section})
            kept[name] = section
    return build_config(kept, source)


def config_to_dict(config: ExperimentConfig) -> dict[str, Any]:
    """Returns the configuration as plain JSON-compatible data (what runs and checkpoints store)."""
    return config.model_dump(mode="json")
