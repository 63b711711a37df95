"""The lines `spectrogen train` ends with, read back from the run directory as the report and the demo do."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

from spectrogen.errors import SpectrogenError
from spectrogen.training.checkpoint import load_checkpoint
from spectrogen.training.csv_log import CsvLog
from spectrogen.training.data_loading import open_dataset
from spectrogen.training.monitor import collapse_text
from spectrogen.training.run_directory import RunDirectory


def minutes_text(seconds: float) -> str:
    """Returns `seconds` as every summary writes it: "1 min 23 s"."""
    return f"{int(seconds // 60)} min {seconds % 60:.0f} s"


@dataclass
class RunProgress:
    """How far a run got, read from its run directory."""

    root: Path
    epochs_done: int
    epochs_planned: int
    trained_seconds: float  # the sum of the epochs' own times, as the report counts them
    diversity_ratio: Optional[float]
    collapse: bool
    collapse_threshold: Optional[float]
    data_path: Optional[str] = None
    max_minutes: Optional[float] = None
    collapse_reason: Optional[str] = None  # which diversity figure is below its threshold, when collapse
    collapse_epoch: Any = None  # the epoch of the last judged row
    steps_done: int = 0  # these two only from `read_steps`
    steps_planned: int = 0

    @property
    def finished(self) -> bool:
        return self.epochs_done >= self.epochs_planned

    @property
    def report(self) -> Path:
        return self.root / "report.html"


def read_progress(root: str | Path) -> RunProgress:
    """Returns the progress of the run in `root` from its epoch table and saved configuration."""
    run = RunDirectory(Path(root))
    rows = CsvLog(run.epoch_csv).rows()
    config = run.read_config() if run.config_json.is_file() else {}
    training, monitor = config.get("training", {}), config.get("monitor", {})
    data_path = config.get("data", {}).get("path")
    seconds = sum(float(row["seconds"]) for row in rows if isinstance(row.get("seconds"), (int, float)))
    judged = [row for row in rows if isinstance(row.get("diversity_ratio"), (int, float))]
    last = judged[-1] if judged else {}
    collapse = last.get("collapse") == 1
    return RunProgress(root=run.root, epochs_done=int(rows[-1]["epoch"]) if rows else 0,
                       epochs_planned=int(training.get("epochs", 0)), trained_seconds=round(seconds, 1),
                       diversity_ratio=last.get("diversity_ratio"), collapse=collapse,
                       collapse_threshold=monitor.get("collapse_threshold"), data_path=data_path,
                       max_minutes=training.get("max_minutes"), collapse_epoch=last.get("epoch"),
                       collapse_reason=collapse_text(last, monitor, data_class_names(data_path)) if collapse else None)


def read_steps(progress: RunProgress) -> RunProgress:
    """Returns `progress` with the epochs and steps final_model.tar records, and the steps its plan takes."""
    state = load_checkpoint(progress.root / "checkpoints" / "final_model.tar", mmap=True)["trainer"]
    epochs, steps, in_epoch = int(state["epoch"]), int(state["global_step"]), int(state["step_in_epoch"])
    per_epoch = (steps - in_epoch) // epochs if epochs else in_epoch
    return replace(progress, epochs_done=epochs, steps_done=steps, steps_planned=per_epoch * progress.epochs_planned)


def data_class_names(path: Optional[str]) -> list[str]:
    """Returns the class names of the prepared data set at `path`; [] when it has none or is gone."""
    if not path:
        return []
    try:
        return list(open_dataset(path).class_names)
    except (SpectrogenError, OSError, ValueError):
        return []


def resume_command(progress: RunProgress, more: int = 50) -> str:
    """Returns the command that continues the run: to its planned epochs, or `more` beyond when it finished."""
    command = f"spectrogen train --resume {progress.root}"
    if progress.finished:
        command += f" --epochs {progress.epochs_planned + more}"
    if progress.max_minutes is not None:
        # the time limit is saved with the run: lifted, or the resumed run would stop as soon
        command += " --set training.max_minutes=null"
    return command


def trained_text(progress: RunProgress, cause: str) -> str:
    """Returns "trained E of P epochs in M", with `cause` when the run stopped before its plan."""
    note = "" if progress.finished else f" ({cause}; it can be resumed)"
    return f"trained {progress.epochs_done} of {progress.epochs_planned} epochs in " \
           f"{minutes_text(progress.trained_seconds)}{note}"


def summary_lines(root: str | Path) -> list[str]:
    """Returns the closing lines of `spectrogen train` for the run in `root`."""
    progress = read_progress(root)
    lines = [f"done: {trained_text(progress, 'stopped early')}"]
    if progress.diversity_ratio is not None:
        if progress.collapse:
            lines.append(f"  warning: mode collapse in the last samples: {progress.collapse_reason}")
        else:
            lines.append(f"  sample diversity: {progress.diversity_ratio:.2f} of the real data's (collapse below "
                         f"{progress.collapse_threshold})")
    if progress.report.is_file():
        lines.append(f"  report:  {progress.report}   (open in a browser: {progress.report.resolve().as_uri()})")
    lines += [f"  run:     {progress.root} (statistics, checkpoints, plots, samples)", "next:"]
    lines.append(f"  {resume_command(progress)}        # "
                 + ("train longer" if progress.finished else f"continue to epoch {progress.epochs_planned}"))
    lines += [f"  spectrogen sample {progress.root / 'checkpoints' / 'final_model.tar'} --n 16 --out samples "
              f"--format npy,png,wav",
              f"  spectrogen evaluate {progress.root} --data {progress.data_path or 'DATA'}"]
    return lines
