"""The HTML text of report.html: one self-contained page (everything escaped, images and styles inline, nothing
fetched), so the file opens the same offline, from an e-mail or from a web server."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from html import escape
from typing import Any, Optional, Sequence

from spectrogen.config.loader import flat_settings
from spectrogen.report.figures import Plot
from spectrogen.config.schema import GAN_FAMILIES

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1100px;
       padding: 0 1em; color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
.subtitle, .caption, .note { color: #555; font-size: 0.92em; }
.note { background: #fff8e0; border-left: 3px solid #e0b000; padding: 0.3em 0.8em; margin: 0.3em 0; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: left; vertical-align: middle; }
th { background: #f4f4f4; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; } figcaption { color: #555; font-size: 0.85em; max-width: 504px; }
img.plot { max-width: 100%; } img.spectrogram { width: 320px; } img.grid { max-width: 100%; }
table.media td { text-align: center; vertical-align: top; } .name { font-size: 0.9em; }
audio { width: 300px; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""

# a resolved configuration holds every section: the page folds away what the run's model does not read
GAN_ONLY = ("model.latent_dim", "model.latent_distribution", "model.batchnorm", "training.loss",
            "training.critic_steps", "training.label_smoothing", "training.learning_rate_d",
            "training.diffaugment", "training.gp_lambda", "model.features_g", "model.features_d")
# what each family reads beyond the shared settings (model.<family>.*)
FAMILY_SECTIONS = {"diffusion": "model.diffusion.", "autoencoder": "model.autoencoder.", "cgan": "model.conditional."}
# single settings only some families read: the autoencoder holds out data.validation_fraction of the examples, and
# the diffusion model is conditional when the data has classes
READ_BY = {"data.validation_fraction": ("autoencoder",), "model.num_classes": ("cgan", "diffusion")}


@dataclass(frozen=True)
class MediaRow:
    """One example in a samples table: a name, its class, its spectrogram image and its audio file."""

    name: str
    label: Optional[str]
    png: bytes
    audio: Optional[str]  # the player's source: a data: URI or a path relative to the page; None: no sound


def image(png: bytes, alt: str, css: str) -> str:
    """Returns an <img> element showing `png` inline, as a data: URI."""
    source = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return f'<img class="{css}" src="{source}" alt="{escape(alt)}">'


def format_value(value: Any) -> str:
    """Returns a table cell's text: numbers to 4 significant digits, other values as JSON."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value)


def key_value_table(rows: Sequence[tuple[str, Any]]) -> str:
    """Returns a two-column table of (name, value) pairs."""
    cells = "".join(f"<tr><th>{escape(name)}</th><td>{escape(format_value(value))}</td></tr>" for name, value in rows)
    return f"<table>{cells}</table>"


def comparison_table(rows: Sequence[tuple[str, Any, Any, str]]) -> str:
    """Returns a table of (figure, generated, real, what it means) rows; a missing real value stays empty."""
    def shown(value: Any) -> str:
        # three decimals side by side: a share of 6e-05 reads as 0.000, beside 0.000
        return f"{value:.3f}" if isinstance(value, float) else format_value(value)

    cells = "".join(f"<tr><th>{escape(name)}</th><td class=\"number\">{escape(shown(generated))}</td>"
                    f"<td class=\"number\">{'' if real is None else escape(shown(real))}</td>"
                    f"<td>{escape(meaning)}</td></tr>" for name, generated, real, meaning in rows)
    return f"<table><tr><th>figure</th><th>generated</th><th>real</th><th>what it means</th></tr>{cells}</table>"


def applies(key: str, config: dict[str, Any]) -> bool:
    """Returns whether the dotted configuration `key` applies to the model `config` describes."""
    model = config.get("model", {}).get("name", "")
    for family, prefix in FAMILY_SECTIONS.items():
        if key.startswith(prefix):
            return model == family
    if key in READ_BY:
        return model in READ_BY[key]
    if key in GAN_ONLY and model not in GAN_FAMILIES:
        return False
    return key != "training.gp_lambda" or config.get("training", {}).get("loss") == "wgan-gp"


def config_tables(config: dict[str, Any]) -> str:
    """Returns the configuration as one table per section, nested sections as dotted keys: the settings
    that apply to the run's model in view, the others folded away in one <details> element."""
    parts, other = [], []
    top = [(key, value) for key, value in config.items() if not isinstance(value, dict)]
    if top:
        parts.append(key_value_table(top))
    for section, values in config.items():
        if isinstance(values, dict) and section != "resolved_from":
            rows = list(flat_settings(values).items())
            shown = [row for row in rows if applies(f"{section}.{row[0]}", config)]
            other += [(f"{section}.{key}", value) for key, value in rows if (key, value) not in shown]
            if shown:
                parts.append(f"<h3>{escape(section)}</h3>" + key_value_table(shown))
    if other:
        model = config.get("model", {}).get("name", "this")
        parts.append(f"<details><summary>{len(other)} settings that do not apply to a {escape(str(model))} model"
                     f"</summary>{key_value_table(other)}</details>")
    steps = config.get("resolved_from") or {}
    if steps:  # in order: a value comes from the last step that names its key, else the schema's default
        rows = [(step, ", ".join(keys)) for step, keys in steps.items()]
        parts.append(f"<details><summary>where the values came from: {escape(', '.join(steps))}</summary>"
                     f"{key_value_table(rows)}</details>")
    return "".join(parts)


def plots_section(plots: Sequence[Plot]) -> str:
    """Returns the figures of `plots`, each with its caption."""
    figures = "".join(f"<figure>{image(plot.png, plot.title, 'plot')}<figcaption>{escape(plot.caption)}</figcaption>"
                      f"</figure>" for plot in plots)
    return f'<div class="plots">{figures}</div>'


def media_table(rows: Sequence[MediaRow], no_audio_reason: Optional[str], columns: int = 3) -> str:
    """Returns a table of `columns` examples per row: each cell a name (and class), a spectrogram, a player."""
    audible = any(row.audio for row in rows)
    cells = []
    for row in rows:
        heading = escape(row.name) + (f" &middot; class <b>{escape(row.label)}</b>" if row.label is not None else "")
        cell = f'<div class="name">{heading}</div>{image(row.png, f"spectrogram of {row.name}", "spectrogram")}'
        if row.audio:
            cell += f'<br><audio controls preload="metadata" src="{escape(row.audio)}"></audio>'
        cells.append(f"<td>{cell}</td>")
    body = "".join(f"<tr>{''.join(cells[start:start + columns])}</tr>" for start in range(0, len(cells), columns))
    note = f'<p class="note">{escape(no_audio_reason)}</p>' if no_audio_reason and not audible else ""
    return note + f'<table class="media">{body}</table>'


def render_page(*, title: str, subtitle: str, notes: Sequence[str], summary: Sequence[tuple[str, Any]],
                plots: Sequence[Plot], grid: Optional[bytes], grid_caption: str, samples: Sequence[MediaRow],
                real: Sequence[MediaRow], real_caption: str, no_audio_reason: Optional[str],
                config: dict[str, Any], audio_caption: Optional[str] = None,
                spectral: Sequence[tuple[str, Any, Any, str]] = (), spectral_plots: Sequence[Plot] = ()) -> str:
    """Returns the whole report page as HTML text."""
    parts = [f"<h1>{escape(title)}</h1>", f'<p class="subtitle">{escape(subtitle)}</p>']
    parts += [f'<p class="note">{escape(note)}</p>' for note in notes]
    parts += ["<h2>Summary</h2>", key_value_table(summary)]
    if spectral:
        parts += ["<h2>Spectral statistics</h2>",
                  '<p class="caption">what a listener checks, measured without a feature network, generated '
                  'samples beside real examples (<code>evaluation/metrics.json</code>)</p>',
                  comparison_table(spectral)]
        if spectral_plots:
            parts.append(plots_section(spectral_plots))
    parts.append("<h2>Training statistics</h2>")
    parts.append(plots_section(plots) if plots else "<p>No epoch has finished yet.</p>")
    parts.append("<h2>Generated samples</h2>")
    if grid is not None:
        parts.append(f"<figure>{image(grid, 'grid of the latest samples', 'grid')}"
                     f"<figcaption>{escape(grid_caption)}</figcaption></figure>")
        if audio_caption:
            parts.append(f'<p class="caption">{escape(audio_caption)}</p>')
        parts.append(media_table(samples, no_audio_reason))
    else:
        parts.append("<p>No samples have been written yet.</p>")
    if real:
        parts += ["<h2>Real examples for comparison</h2>", f'<p class="caption">{escape(real_caption)}</p>',
                  media_table(real, no_audio_reason)]
    parts += ["<h2>Configuration</h2>",
              '<p class="caption">as resolved for this run (<code>epochs_statistics/experiment_config.json</code>)</p>',
              config_tables(config)]
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            # an empty icon: otherwise browsers fetch /favicon.ico, which a plain file server lacks
            f'<link rel="icon" href="data:,">\n'
            f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")
