"""Say when a run's experiment_config.json was edited by hand: a resume uses the checkpoint's configuration.

The file is a record, rewritten when the run continues; without a notice its edits would be dropped silently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Optional

from spectrogen.config.loader import flat_settings
from spectrogen.training.run_directory import RunDirectory, run_of_checkpoint

SHOWN_FIELDS = 8  # fields named in full in the notice; the rest are counted


def edited_fields(saved: dict[str, Any], written: dict[str, Any], overridden: Iterable[str]) -> list[str]:
    """Returns the dotted keys whose value in `written` differs from (or is missing in) `saved`, leaving out
    those that an override, or an override of their section, sets anyway."""
    old, new = flat_settings(saved), flat_settings(written)
    overridden = set(overridden)
    prefixes = tuple(f"{key}." for key in overridden)
    missing = object()
    return sorted(key for key in old.keys() | new.keys()
                  if old.get(key, missing) != new.get(key, missing)
                  and key not in overridden and not key.startswith(prefixes))


def resume_notice(checkpoint_path: Path, saved: dict[str, Any], overrides: Iterable[tuple[str, Any]]) -> Optional[str]:
    """Returns the one-line notice to print when the run's experiment_config.json differs from `saved`
    (the checkpoint's configuration) in a field the `overrides` leave alone; None when it does not."""
    owner = run_of_checkpoint(checkpoint_path)
    if owner is None:
        return None  # a checkpoint outside a run directory has no experiment_config.json beside it
    run = RunDirectory(owner)
    try:
        written = run.read_config()
        damage = None if isinstance(written, dict) else "it does not hold a JSON object"
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        damage = f"it cannot be read ({type(exc).__name__})"
    path, how = run.config_json, "to change a field on resume, give it as --set section.key=value"
    if damage:
        return f"{path}: {damage}; the configuration saved in {checkpoint_path} is used ({how})"
    fields = edited_fields(saved, written, [key for key, _ in overrides])
    if not fields:
        return None
    named = ", ".join(fields[:SHOWN_FIELDS]) + (f" and {len(fields) - SHOWN_FIELDS} more"
                                                 if len(fields) > SHOWN_FIELDS else "")
    return (f"{path} differs from the configuration saved in {checkpoint_path} in {named}; the checkpoint's "
            f"configuration is used and these edits are not applied; {how}, e.g. {_example(fields, written)}")


def _example(fields: list[str], written: dict[str, Any]) -> str:
    """Returns the --set that applies the first edit of `fields` that still holds a value in `written`."""
    values = flat_settings(written)
    key = next((key for key in fields if key in values), fields[0])
    value = values.get(key, "VALUE")
    return f"--set {key}={value if isinstance(value, str) else json.dumps(value)}"
