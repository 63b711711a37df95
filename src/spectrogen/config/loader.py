"""Load a configuration from a preset name or a JSON file (comments allowed), apply overrides, validate."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from pydantic import BaseModel, ValidationError

from spectrogen.config.resolve import resolve
from spectrogen.config.schema import ExperimentConfig
from spectrogen.errors import ConfigError

# default/test/template: the DCGAN set-ups; autoencoder and digits: the mel autoencoder and the diffusion model
PRESETS = ("default", "test", "template", "autoencoder", "digits")


def strip_json_comments(text: str) -> str:
    """Returns `text` without // line comments, /* block */ comments and trailing commas, strings untouched."""
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                in_string = False
            i += 1
        elif c == '"':
            in_string = True
            out.append(c)
            i += 1
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            out.append(c)
            i += 1
    cleaned = "".join(out)
    return _drop_trailing_commas(cleaned)


def _drop_trailing_commas(text: str) -> str:
    out: list[str] = []
    in_string = False
    for i, c in enumerate(text):
        if in_string:
            if c == '"' and not _escaped(text, i):
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "}]":
            j = len(out) - 1
            while j >= 0 and out[j].isspace():
                j -= 1
            if j >= 0 and out[j] == ",":
                del out[j]
        out.append(c)
    return "".join(out)


def _escaped(text: str, i: int) -> bool:
    backslashes = 0
    while i > 0 and text[i - 1] == "\\":
        backslashes += 1
        i -= 1
    return backslashes % 2 == 1


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


def preset_path(name: str):
    """Returns the packaged file of a preset (`default`, `test` or `template`)."""
    folder = resources.files("spectrogen.config") / "presets"
    for suffix in (".json", ".jsonc"):
        candidate = folder / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    raise ConfigError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}, or give a path to a JSON file")


def load_raw(config: str | Path | None) -> dict[str, Any]:
    """Returns the raw mapping of a preset name, a file path, or the `default` preset when None."""
    if config is None:
        config = "default"
    path = Path(config)
    if isinstance(config, str) and config in PRESETS and not path.is_file():  # a folder named so is no config
        with resources.as_file(preset_path(config)) as real:
            return read_config_file(real)
    if isinstance(config, str) and config.startswith("config_") and config[7:] in PRESETS and not path.is_file():
        # also accept the file-style names config_test / config_template
        return load_raw(config[7:])
    if not path.exists():
        raise ConfigError(
            f"configuration {str(config)!r} is neither a preset ({', '.join(PRESETS)}) nor an existing file"
        )
    return read_config_file(path)


def parse_override(text: str) -> tuple[str, Any]:
    """Returns (dotted key, value) of a `section.key=value` override; values are read as JSON when they can be."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {text!r}: write it as section.key=value, e.g. --set training.epochs=5")
    raw = raw.strip()
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


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


def refuse_value_for_section(key: str, value: Any) -> None:
    """Raises ConfigError when `key` names a whole section but `value` is not a mapping of its keys."""
    if section_of(key) is not None and not isinstance(value, dict):
        raise ConfigError(f"{key} = {value!r}: {section_advice(key, value)}")


def apply_overrides(raw: dict[str, Any], overrides: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Returns a copy of `raw` with each dotted key set; unknown keys are left for validation to name."""
    result = json.loads(json.dumps(raw))
    for key, value in overrides:
        refuse_value_for_section(key, value)
        parts = key.split(".")
        node = result
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"{key}: {part!r} is a value, not a section")
            node = child
        node[parts[-1]] = value
    return result


def format_validation_error(error: ValidationError, source: str) -> str:
    lines = [f"invalid configuration ({source}):"]
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
            lines.append(f"  {key}: {message} (value {item.get('input')!r}); check the spelling against "
                         f"`spectrogen train --config template --print-config`")
            continue
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        if item["type"] == "model_type" and section_of(key) is not None:
            message = section_advice(key, item.get("input"))
        if item["type"] == "finite_number":
            message = "must be a finite number (inf and nan are not allowed)"
        if isinstance(item.get("input"), dict) and item["type"] == "value_error":
            # a check across several fields of a section: its message names them
            lines.append(f"  {message}")
        else:
            lines.append(f"  {key} = {item.get('input')!r}: {message}")
    return "\n".join(lines)


def build_config(raw: Mapping[str, Any], source: str = "configuration") -> ExperimentConfig:
    """Returns the validated, resolved configuration of a raw mapping; raises ConfigError naming each bad key."""
    try:
        config = ExperimentConfig.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None
    return resolve(config)


def load_config(
    config: str | Path | None = None,
    overrides: Iterable[tuple[str, Any]] = (),
) -> ExperimentConfig:
    """Returns the configuration of a preset or file with `overrides` ((dotted key, value) pairs) applied."""
    raw = apply_overrides(load_raw(config), overrides)
    return build_config(raw, source=str(config or "default"))


def config_to_dict(config: ExperimentConfig) -> dict[str, Any]:
    """Returns the configuration as plain JSON-compatible data (what runs and checkpoints store)."""
    return config.model_dump(mode="json")
