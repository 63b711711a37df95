"""`spectrogen demo` as a function: the whole workflow on built-in data, in a few minutes on a CPU.

    from spectrogen.demo import run_demo
    result = run_demo("spectrogen_demo", minutes=3)
    print(result.report)          # spectrogen_demo/run/report.html

It writes one folder:

```
OUT/data/       builtin:engines: four engine types, 64 clips of 1.024 s each, 64x64 SpecGAN spectrograms
OUT/run/        a training run (run directory of `spectrogen train`), with report.html and report_audio/
OUT/samples/    16 samples of the final generator: samples.npy, one .png and one .wav each, grid.png
OUT/demo.json   what the demo did and how long each part took
```

The model is the `test` preset of a small SpecGAN (or the conditional GAN), trained for at most
`minutes` of wall time (`training.max_minutes`: it stops cleanly with a checkpoint that
`spectrogen train --resume OUT/run` continues). The spectrograms are made at the model's 64x64
size, so samples go back to audio without a resize.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from spectrogen.errors import OverwriteError, UsageError

DEMO_MODELS = ("specgan", "cgan")
DEFAULT_OUT = "spectrogen_demo"
DEFAULT_MINUTES = 3.0
CLIPS_PER_CLASS = 64
IMAGE_SIZE = 64
NUM_SAMPLES = 16
DEMO_ENTRIES = ("data", "run", "samples", "demo.json")  # what the demo writes; --overwrite removes only these
MARKER = "demo.json"

# A small SpecGAN that learns visibly within a few CPU minutes: SpecGAN's networks (5x5 kernels) at a
# quarter of the paper's width, with batch norm, the hinge loss, one critic update per generator
# update and samples from the generator's moving average. On the spoken-digits quality benchmark
# (benchmarks/README.md) at a fixed CPU budget, WGAN-GP's five critic updates left too few
# generator steps (Inception score 1.26 of 9.5), the hinge loss at 1:1 with an average reached 5.10,
# and batch norm on top of that took the samples from noise-like to word-like within the same time.
# On the demo's own engines (2.5 minutes each, 85-93 epochs, one thread) batch norm and the average
# took FID from 146.7 to 6.4 and the Inception score from 1.11 to 3.21 (of 4 classes).
TRAINING_SETTINGS = {
    "model.image_size": IMAGE_SIZE,
    "model.features_g": 16,
    "model.features_d": 16,
    "training.batch_size": 16,
    "training.epochs": 100,
    "training.loss": "hinge",
    "training.critic_steps": 1,
    "training.learning_rate": 2e-4,
    "training.ema_decay": 0.999,
    "model.batchnorm": True,
    "output.num_samples": NUM_SAMPLES,
    "output.sample_every": 1,
    "output.plot_every": 10,
    "output.checkpoint_every": 5,
    "output.log_every": 8,
}


@dataclass
class DemoResult:
    """Where the demo wrote what, and how long each part took (seconds)."""

    out: Path
    data: Path
    run: Path
    report: Path
    samples: Path
    wavs: list[Path] = field(default_factory=list)
    epochs_done: int = 0
    epochs_planned: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def demo_overrides(data: Path, run: Path, *, model: str, minutes: float, device: str) -> list[tuple[str, object]]:
    """Returns the (dotted key, value) pairs the demo applies to the `test` preset."""
    # the data set's absolute path: the run's report finds its real examples from any working folder
    return [("model.name", model), ("data.path", str(Path(data).resolve())), ("output.output_dir", str(run)),
            ("training.device", device), ("training.max_minutes", float(minutes)), *TRAINING_SETTINGS.items()]


def check_out_folder(out: Path, overwrite: bool) -> None:
    """Raises OverwriteError when `out` holds anything and `overwrite` is off; with it, removes the demo's entries."""
    if not out.exists():
        return
    if not out.is_dir():
        raise OverwriteError(f"{out} is a file, not a folder; choose another --out")
    entries = list(out.iterdir())
    if not entries:
        return
    if not overwrite:
        what = "a demo" if (out / MARKER).exists() else f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"
        raise OverwriteError(f"{out} already holds {what}; pass --overwrite to replace the demo there, "
                             f"or choose another --out")
    for name in DEMO_ENTRIES:  # the user's own files in the folder are left alone
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def run_demo(out: str | Path = DEFAULT_OUT, *, minutes: float = DEFAULT_MINUTES, model: str = "specgan",
             device: str = "auto", overwrite: bool = False, quiet: bool = False,
             log: Callable[[str], None] = print) -> DemoResult:
    """Returns where the demo wrote its data set, run, report and samples after building, training and sampling.

    Raises OverwriteError when `out` is not empty (unless `overwrite`), UsageError for a bad model,
    time limit or device; Ctrl-C during training saves a checkpoint, then raises KeyboardInterrupt.
    """
    from spectrogen.config import load_config

    out = Path(out).expanduser()
    if model not in DEMO_MODELS:
        raise UsageError(f"--model {model}: the demo trains {' or '.join(DEMO_MODELS)}")
    if not minutes > 0:
        raise UsageError(f"--minutes {minutes:g}: give a positive time limit, e.g. 3")
    data, run = out / "data", out / "run"
    # validated before anything is written: a bad or missing --device fails here, not after the data set is built
    config = load_config("test", demo_overrides(data, run, model=model, minutes=minutes, device=device))
    device_name = _device_name(config.training.device)
    check_out_folder(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    result = DemoResult(out=out, data=data, run=run, report=run / "report.html", samples=out / "samples",
                        epochs_planned=config.training.epochs)
    started = time.perf_counter()

    log(f"[1/3] building the built-in engine sounds ({CLIPS_PER_CLASS} clips of each of 4 engine types) in {data}")
    _timed(result, "prepare", lambda: _prepare(data, quiet))
    log(f"[2/3] training a small {'conditional GAN' if model == 'cgan' else 'SpecGAN'} for at most "
        f"{minutes:g} minute(s) on {device_name}; the run's report.html is written at its end")
    _timed(result, "train", lambda: _train(config, quiet))
    result.epochs_done = _epochs_done(run)
    log(f"[3/3] sampling {NUM_SAMPLES} spectrograms with .png and .wav files into {result.samples}")
    result.wavs = _timed(result, "sample", lambda: _sample(run, result.samples, device))
    result.seconds["total"] = time.perf_counter() - started
    _write_marker(result, model, minutes, device_name)
    return result


def _device_name(device: str) -> str:
    """Returns the device `device` resolves to, as the user knows it ("cpu", "cuda:0")."""
    from spectrogen.training.device import resolve_device

    return str(resolve_device(device))


def _timed(result: DemoResult, name: str, work: Callable):
    """Returns what `work()` returns, after recording its wall time as `result.seconds[name]`."""
    began = time.perf_counter()
    value = work()
    result.seconds[name] = round(time.perf_counter() - began, 1)
    return value


def _prepare(data: Path, quiet: bool) -> None:
    from spectrogen.data.prepare import prepare

    prepare("builtin:engines", data, settings={"image_size": [IMAGE_SIZE, IMAGE_SIZE]}, count=CLIPS_PER_CLASS,
            seed=0, quiet=quiet)


def _train(config, quiet: bool) -> None:
    from spectrogen.training.api import train

    train(config, overwrite=True, quiet=quiet)  # the folder was checked (and cleared) by check_out_folder


def _sample(run: Path, samples: Path, device: str) -> list[Path]:
    from spectrogen.sampling.load import load_generator
    from spectrogen.sampling.outputs import write_samples

    model = load_generator(run / "checkpoints" / "final_model.tar", device=device)
    written = write_samples(model, samples, NUM_SAMPLES, formats=("npy", "png", "wav"), seed=0, overwrite=True)
    return written.audio


def _epochs_done(run: Path) -> int:
    from spectrogen.training.csv_log import CsvLog
    from spectrogen.training.run_directory import RunDirectory

    rows = CsvLog(RunDirectory(run).epoch_csv).rows()
    return int(rows[-1]["epoch"]) if rows else 0


def _write_marker(result: DemoResult, model: str, minutes: float, device: str) -> None:
    record = {"command": "spectrogen demo", "model": model, "minutes": minutes, "device": device,
              "epochs_done": result.epochs_done, "epochs_planned": result.epochs_planned,
              "seconds": result.seconds, "report": str(result.report.relative_to(result.out)),
              "samples": str(result.samples.relative_to(result.out))}
    (result.out / MARKER).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def next_steps(result: DemoResult) -> list[str]:
    """Returns the commands worth trying after the demo, with the demo's own paths filled in."""
    more = max(result.epochs_planned, result.epochs_done) + 40
    # the demo's time limit is saved with the run: lifted, or the resumed run would stop as soon
    return [f"spectrogen train --resume {result.run} --epochs {more} --set training.max_minutes=null"
            "        # train longer, without the demo's time limit",
            f"spectrogen sample {result.run / 'checkpoints' / 'final_model.tar'} --n 32 --out more_samples "
            f"--format npy,png,wav",
            f"spectrogen evaluate {result.run} --data {result.data}",
            "spectrogen prepare my_recordings/ --out data/mine && "
            "spectrogen train --model specgan --data data/mine --output-dir runs/mine"]


def summary_lines(result: DemoResult, stopped_early: Optional[bool] = None) -> list[str]:
    """Returns the lines that tell the user where to look after the demo."""
    stopped_early = result.epochs_done < result.epochs_planned if stopped_early is None else stopped_early
    total = result.seconds.get("total", 0.0)
    trained = (f"{result.epochs_done} of {result.epochs_planned} epochs"
               + (" (the time limit ended training; it can be resumed)" if stopped_early else ""))
    lines = [f"done in {int(total // 60)} min {total % 60:.0f} s: {trained}",
             f"  report:  {result.report}   (open in a browser: {result.report.resolve().as_uri()})",
             f"  sounds:  {result.samples}/*.wav ({len(result.wavs)} generated); "
             f"real and generated side by side in {result.run / 'report_audio'}",
             f"  images:  {result.samples}/grid.png and one .png per sample",
             f"  run:     {result.run} (statistics, checkpoints, plots)",
             "next:"]
    return lines + [f"  {command}" for command in next_steps(result)]
