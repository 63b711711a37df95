"""`spectrogen demo` as a function, `run_demo(out)`: the whole workflow on built-in data in a few minutes on a CPU.
OUT/ gets data/ (builtin:engines), run/ (a training run with its report), samples/ (.npy, .png and .wav) and
demo.json (timings, figures, verdict). `minutes` is a safety net that stops training with a resumable checkpoint."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from spectrogen.api import train
from spectrogen.config import ExperimentConfig, load_config
from spectrogen.data.prepare import prepare
from spectrogen.errors import OverwriteError, SpectrogenError, UsageError
from spectrogen.metrics.checkpoint_evaluation import evaluate_checkpoint
from spectrogen.metrics.table import write_metrics
from spectrogen.paths import check_own_folder, remove_entries
from spectrogen.report import write_report
from spectrogen.sampling.load import load_generator
from spectrogen.sampling.outputs import write_samples
from spectrogen.training.device import resolve_device
from spectrogen.training.summary import (RunProgress, minutes_text, read_progress, read_steps, resume_command,
                                         trained_text)

DEMO_MODELS = ("specgan", "cgan")
DEFAULT_OUT = "spectrogen_demo"
DEFAULT_MINUTES = 8.0  # a safety net, well above what the plan takes on a busy machine (benchmarks/README.md)
CLIPS_PER_CLASS = 64
IMAGE_SIZE = 64  # the data are made at the model's size: samples go back to audio without a resize
NUM_SAMPLES = 16
EVALUATION_SAMPLES = 256  # as many samples as real clips: precision and recall compare sets of one size
# the demo's promise on the engines (benchmarks/README.md): each figure at least (">=") or at most ("<=") its
# bound. An unconditional model must draw every engine type (the least at half its real share) recognisably;
# the classifier-free figures ask for no lattice of dots, the engines' levels, few silent frames, harmonic lines
DEMO_TARGETS = {"is_ratio": (">=", 0.8), "precision": (">=", 0.6), "recall": (">=", 0.6),
                "diversity_ratio": (">=", 0.6), "class_accuracy": (">=", 0.9), "type_coverage": (">=", 0.5),
                "recognised": (">=", 0.9), "artifact_ratio": ("<=", 1.2), "level_db_distance": ("<=", 3.0),
                "spread_db_distance": ("<=", 3.0), "silent_excess": ("<=", 0.05), "tonal_ratio": (">=", 0.6)}
# below this share of its planned steps, the samples of a run the time limit stopped are not worth judging
MEANINGFUL_SHARE = 0.5
DEMO_ENTRIES = ("data", "run", "samples", "demo.json")  # what the demo writes; --overwrite removes only these
MARKER = "demo.json"

# The settings "demo": a SpecGAN that learns visibly within a few CPU minutes: a quarter of the paper's width,
# batch norm, the hinge loss at one critic update per generator update (WGAN-GP's five leave too few generator
# steps on a CPU), an EMA generator. The plan is in epochs, so a busy machine trains as far as an idle one.
TRAINING_SETTINGS = {
    "model.image_size": IMAGE_SIZE, "model.features_g": 16, "model.features_d": 16, "model.batchnorm": True,
    "training.batch_size": 16, "training.epochs": 200, "training.loss": "hinge", "training.critic_steps": 1,
    "training.learning_rate": 2e-4, "training.ema_decay": 0.99,
    "output.num_samples": NUM_SAMPLES, "output.sample_every": 1, "output.plot_every": 10,
    "output.checkpoint_every": 5, "output.log_every": 8,
}
# The settings "demo MODEL": the mode-seeking term at the weight that drew every engine type in most seeds
# (benchmarks/README.md, The mode-seeking term; The demo at ten seeds)
MODEL_SETTINGS = {"specgan": {"training.mode_seeking": 2.0}, "cgan": {"training.mode_seeking": 4.0}}


@dataclass
class DemoResult:
    """Where the demo wrote what, and how long each part took (seconds)."""

    out: Path
    data: Path
    run: Path
    report: Path
    samples: Path
    progress: Optional[RunProgress] = None  # epochs and steps as final_model.tar records them
    wavs: list[Path] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    evaluation: dict = field(default_factory=dict)  # figures, targets and verdict (`evaluate_demo`)

    @property
    def stop_reason(self) -> Optional[str]:
        # the demo's only other stop, Ctrl-C, returns no result
        return None if self.progress.finished else "time limit"

    @property
    def cut_short(self) -> bool:
        """Whether the time limit stopped training before the share of its steps that learning needs."""
        progress = self.progress
        return self.stop_reason == "time limit" and progress.steps_done < MEANINGFUL_SHARE * progress.steps_planned


def demo_config(data: Path, run: Path, *, model: str, minutes: float, device: str, seed: int = 0) -> ExperimentConfig:
    """Returns the demo's configuration: the `test` preset, the settings "demo" and "demo MODEL", then the run's
    own (folders, device, time limit, seed), each a step of its resolved_from."""
    # the data set's absolute path: the run's report finds its real examples from any working folder
    own = [("model.name", model), ("data.path", str(Path(data).resolve())), ("output.output_dir", str(run)),
           ("training.device", device), ("training.max_minutes", float(minutes)), ("training.seed", seed)]
    return load_config("test", own, settings=[("demo", TRAINING_SETTINGS), (f"demo {model}", MODEL_SETTINGS[model])])


def check_out_folder(out: Path, overwrite: bool) -> None:
    """Raises OverwriteError when `out` holds anything and `overwrite` is off; with it, removes the demo's entries."""
    if out.exists() and not out.is_dir():
        raise OverwriteError(f"{out} is a file, not a folder; choose another --out")
    if check_own_folder(out, own=DEMO_ENTRIES, marker=MARKER, overwrite=overwrite, flag="--out", kind="demo",
                        refusal=f"{out} already holds a demo; pass --overwrite to replace the demo there, or choose "
                                "another --out"):
        remove_entries(out, DEMO_ENTRIES)  # the user's own files in the folder are left alone


def run_demo(out: str | Path = DEFAULT_OUT, *, minutes: float = DEFAULT_MINUTES, model: str = "specgan",
             device: str = "auto", overwrite: bool = False, quiet: bool = False, seed: int = 0,
             log: Callable[[str], None] = print) -> DemoResult:
    """Returns where the demo wrote its data set, run, report and samples after building, training and sampling;
    `seed` seeds training and sampling. Ctrl-C during training saves a checkpoint, then raises KeyboardInterrupt."""
    out = Path(out).expanduser()
    if model not in DEMO_MODELS:
        raise UsageError(f"--model {model}: the demo trains {' or '.join(DEMO_MODELS)}")
    if not minutes > 0:
        raise UsageError(f"--minutes {minutes:g}: give a positive time limit, e.g. 3")
    data, run = out / "data", out / "run"
    # validated before anything is written: a bad or missing --device fails here, not after the data set is built
    config = demo_config(data, run, model=model, minutes=minutes, device=device, seed=seed)
    device_name = str(resolve_device(config.training.device))  # as the user knows it ("cpu", "cuda:0")
    check_out_folder(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    result = DemoResult(out=out, data=data, run=run, report=run / "report.html", samples=out / "samples")
    started = time.perf_counter()

    log(f"[1/4] building the built-in engine sounds ({CLIPS_PER_CLASS} clips of each of 4 engine types) in {data}")
    _timed(result, "prepare", lambda: prepare("builtin:engines", data, settings={"image_size": [IMAGE_SIZE] * 2},
                                              count=CLIPS_PER_CLASS, seed=0, quiet=quiet))
    log(f"[2/4] training a small {'conditional GAN' if model == 'cgan' else 'SpecGAN'} on {device_name} for "
        f"{config.training.epochs} epochs (time limit {minutes:g} min); the run's report.html is written at its end")
    # the folder was checked (and cleared) by check_out_folder
    _timed(result, "train", lambda: train(config, overwrite=True, quiet=quiet))
    result.progress = read_steps(read_progress(run))
    if result.cut_short:
        log(f"warning: the {minutes:g}-minute time limit stopped training after {result.progress.steps_done} of "
            f"{result.progress.steps_planned} steps, too few for samples that resemble the engines (the figures "
            f"below show it); continue with: {resume_command(result.progress)}")
    log(f"[3/4] sampling {NUM_SAMPLES} spectrograms with .png and .wav files into {result.samples}")
    result.wavs = _timed(result, "sample", lambda: _sample(run, result.samples, device, seed))
    log(f"[4/4] comparing {EVALUATION_SAMPLES} samples with the real engine sounds")
    result.evaluation = _timed(result, "evaluate", lambda: evaluate_demo(run, data, model, device_name))
    _timed(result, "report", lambda: write_report(run))  # now with the evaluation's figures
    result.seconds["total"] = round(time.perf_counter() - started, 1)
    _write_marker(result, model, minutes, device_name, seed)
    return result


def _timed(result: DemoResult, name: str, work: Callable):
    began = time.perf_counter()
    value = work()
    result.seconds[name] = round(time.perf_counter() - began, 1)
    return value


def _sample(run: Path, samples: Path, device: str, seed: int) -> list[Path]:
    model = load_generator(run / "checkpoints" / "final_model.tar", device=device)
    written = write_samples(model, samples, NUM_SAMPLES, formats=("npy", "png", "wav"), seed=seed, overwrite=True)
    return list(written.audio)


def evaluate_demo(run: Path, data: Path, model: str, device: str = "cpu") -> dict:
    """Returns the final generator's figures (those of `spectrogen evaluate`, also written to
    RUN/evaluation/metrics.json for the report) against the real engines, the targets and a one-line verdict."""
    try:
        result = evaluate_checkpoint(run / "checkpoints" / "final_model.tar", data, n=EVALUATION_SAMPLES,
                                     metrics=["is", "pr", "diversity", "spectral"], device=device,
                                     log=lambda line: None)
    except SpectrogenError as exc:  # e.g. a data set too small for a feature network: the demo itself is done
        return {"skipped": str(exc), "verdict": f"not judged: {exc}"}
    write_metrics(result, run / "evaluation")
    metrics = dict(result.metrics)
    if metrics.get("is_real"):
        metrics["is_ratio"] = metrics["is"] / metrics["is_real"]
    if metrics.get("silent_frames") is not None and metrics.get("silent_frames_real") is not None:
        metrics["silent_excess"] = metrics["silent_frames"] - metrics["silent_frames_real"]
    keys = ("is", "is_real", "is_ratio", "precision", "recall", "diversity_ratio",
            *(("class_accuracy",) if model == "cgan" else ("type_coverage", "recognised")), "artifact_ratio",
            "artifact_ratio_real", "level_db_distance", "spread_db_distance", "silent_frames", "silent_frames_real",
            "tonal_ratio", *(("silent_excess",) if "silent_excess" in metrics else ()))
    figures = {key: None if metrics.get(key) is None else round(float(metrics[key]), 4) for key in keys}
    targets = {key: DEMO_TARGETS[key] for key in figures if key in DEMO_TARGETS}
    missed = missed_targets(figures, targets)
    trust = result.info.get("feature_trust", {})
    judged = verdict(figures, missed) if trust.get("meaningful", True) else f"not judged: {trust.get('reason')}"
    types = {name: round(float(values["share"]), 4) for name, values in result.per_class.items() if "share" in values}
    return {"figures": figures, "targets": targets, "missed": missed, "passed": not missed and judged[:3] != "not",
            "types": types, "feature_network": result.info.get("feature_network"), "feature_trust": trust,
            "verdict": judged}


def meets(value: Optional[float], target: tuple[str, float]) -> bool:
    """Returns whether `value` meets `target`, (">=" or "<=", bound); a missing value meets none."""
    direction, bound = target
    return value is not None and (value >= bound if direction == ">=" else value <= bound)


def missed_targets(figures: dict, targets: dict) -> list[str]:
    """Returns the keys of `targets` whose figure misses its bound, in the targets' order."""
    return [key for key, target in targets.items() if not meets(figures.get(key), tuple(target))]


def verdict(figures: dict, missed: list[str]) -> str:
    """Returns one line that says whether the samples are like the real engines, and which figure says not."""
    if not missed:
        types = ", every engine type drawn and recognisable" if "type_coverage" in figures else ""
        return ("the samples resemble the engines: like the real sounds in quality (precision) and variety "
                f"(recall, diversity){types}, every figure at its target")
    words = {"is_ratio": "too few clearly recognisable engine types (IS / real IS)",
             "precision": "many samples unlike any real one (precision)",
             "recall": "parts of the real engines' variety not covered (recall)",
             "diversity_ratio": "samples too alike (diversity)",
             "class_accuracy": "samples not recognised as the engine type asked for",
             "type_coverage": "an engine type seldom or never drawn",
             "recognised": "many samples not clearly any engine type",
             "artifact_ratio": "a lattice of dots the real engines do not have (artifact ratio)",
             "level_db_distance": "some frequencies louder or quieter than in the engines (level per frequency)",
             "spread_db_distance": "some frequencies more or less varied than in the engines (spread per frequency)",
             "silent_excess": "silent gaps the engines do not have (silent frames)",
             "tonal_ratio": "the engines' harmonic lines missing (tonal ratio)"}
    return "the samples are not yet like the engines: " + "; ".join(words[key] for key in missed) + \
        "; train longer (see next:)"


def evaluation_lines(evaluation: dict) -> list[str]:
    """Returns the console lines of the demo's figures beside the real data's, with the verdict."""
    if "skipped" in evaluation:
        return [f"  verdict: {evaluation['verdict']}"]
    figures, targets = evaluation["figures"], evaluation["targets"]

    def shown(key: str, digits: int = 2) -> str:
        value = figures.get(key)
        text = "n/a" if value is None else f"{value:.{digits}f}"
        if key not in targets:
            return text
        direction, bound = targets[key]
        mark = "ok" if meets(value, tuple(targets[key])) else ("LOW" if direction == ">=" else "HIGH")
        return f"{text} (target {direction} {bound:g} {mark})"

    lines = [f"  samples against the real engines: IS {figures['is']:.2f} of the real data's {figures['is_real']:.2f} "
             f"= {shown('is_ratio')}",
             f"    precision {shown('precision')}, recall {shown('recall')}, diversity {shown('diversity_ratio')}"
             f"   (fresh real engines score about 0.93, 0.93, 1.0)"]
    if "class_accuracy" in figures:
        lines.append(f"    recognised as the engine type asked for: {shown('class_accuracy')}")
    if figures.get("artifact_ratio") is not None:
        lines.append(f"  without a feature network: lattice of dots {shown('artifact_ratio')} (real "
                     f"{figures.get('artifact_ratio_real') or 0:.2f}), level per frequency off by "
                     f"{shown('level_db_distance', 1)} dB, spread by {shown('spread_db_distance', 1)} dB,")
        lines.append(f"    silent frames {figures.get('silent_frames') or 0:.2f} (real "
                     f"{figures.get('silent_frames_real') or 0:.2f}; excess {shown('silent_excess')}), harmonic lines "
                     f"{shown('tonal_ratio')} of the real engines'")
    types = evaluation.get("types")
    if types:
        drawn = ", ".join(f"{name} {share:.0%}" for name, share in types.items())
        lines.append(f"    engine types drawn: {drawn} (real: {1 / len(types):.0%} each); least drawn over its real "
                     f"share {shown('type_coverage')}, clearly one type {shown('recognised')}")
    return lines + [f"  verdict: {evaluation['verdict']}"]


def _write_marker(result: DemoResult, model: str, minutes: float, device: str, seed: int) -> None:
    progress = result.progress
    record = {"command": "spectrogen demo", "model": model, "minutes": minutes, "device": device, "seed": seed,
              "epochs_done": progress.epochs_done, "epochs_planned": progress.epochs_planned,
              "steps_done": progress.steps_done, "steps_planned": progress.steps_planned,
              "trained_seconds": progress.trained_seconds, "stopped_by": result.stop_reason,
              "cut_short": result.cut_short, "resume": resume_command(progress),
              "seconds": result.seconds, "evaluation": result.evaluation,
              "report": str(result.report.relative_to(result.out)),
              "samples": str(result.samples.relative_to(result.out))}
    (result.out / MARKER).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def next_steps(result: DemoResult) -> list[str]:
    """Returns the commands worth trying after the demo, with the demo's own paths filled in."""
    return [f"{resume_command(result.progress)}        # train longer, without the demo's time limit",
            f"spectrogen sample {result.run / 'checkpoints' / 'final_model.tar'} --n 32 --out more_samples "
            f"--format npy,png,wav",
            f"spectrogen evaluate {result.run} --data {result.data} --overwrite        # all the metrics",
            "spectrogen prepare my_recordings/ --out data/mine && "
            "spectrogen train --model specgan --data data/mine --output-dir runs/mine"]


def summary_lines(result: DemoResult) -> list[str]:
    """Returns the lines that tell the user what the demo did, how good its samples are and where to look."""
    lines = [f"done in {minutes_text(result.seconds.get('total', 0.0))}: "
             f"{trained_text(result.progress, 'the time limit ended training')}"]
    if result.evaluation:
        lines += evaluation_lines(result.evaluation)
    lines += [f"  report:  {result.report}   (open in a browser: {result.report.resolve().as_uri()})",
              f"  sounds:  {result.samples}/*.wav ({len(result.wavs)} generated); "
              f"real and generated side by side in {result.run / 'report_audio'}",
              f"  images:  {result.samples}/grid.png and one .png per sample",
              f"  run:     {result.run} (statistics, checkpoints, plots, evaluation/metrics.json)",
              "next:"]
    return lines + [f"  {command}" for command in next_steps(result)]
