"""The one training loop, shared by every model family: per step `method.train_step`, per logging interval one
host synchronisation (the iteration row, the NaN policy, the bar), per epoch validation, samples, callbacks,
the epoch row, checkpoints and plots. Under several processes every rank trains its slice; only rank 0 writes."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

import numpy as np
from tqdm import tqdm

from spectrogen.config import config_to_dict
from spectrogen.config.schema import ExperimentConfig
from spectrogen.training.budget import OverheadBudget, RunPlan, faster_setting
from spectrogen.errors import CheckpointError
from spectrogen.training.checkpoint import (BestTracker, build_checkpoint, load_checkpoint, progress_of,
                                            prune_rolling, publish_copy, rng_state, rolling_checkpoints,
                                            save_checkpoint, set_rng_state)
from spectrogen.training.csv_log import CsvLog
from spectrogen.training.data_loading import TrainingData
from spectrogen.training.device import ResourceMonitor, ThreadChooser, TrainingContext
from spectrogen.training.distributed import any_process, from_main, interval_to_host, seed_rank_streams
from spectrogen.models.method import TrainingMethod
from spectrogen.training.monitor import ConvergenceMonitor, FixedSamples, HealthMonitor, collapse_text, primary_loss
from spectrogen.training.plots import write_plots
from spectrogen.training.run_directory import RunDirectory
from spectrogen.training.statistics import EpochAccumulator, IntervalBuffer, validation_figures

# statistics shown in the bar and the epoch line, in this order, when the method reports them
SHOWN = ("loss_g", "loss_d", "loss", "val_loss", "d_real", "d_fake")
# under torchrun a second Ctrl-C this soon after the first is the terminal's signal forwarded again
REPEATED_SIGNAL_S = 5.0


def shown_statistics(values: Mapping[str, float], limit: int = 4) -> str:
    """Returns `key=value` pairs of the most telling statistics in `values`."""
    keys = [key for key in SHOWN if key in values][:limit]
    return " ".join(f"{key}={values[key]:.4g}" for key in keys)


def epoch_line(row: Mapping[str, float], epochs: int, left: str = "", flags: Sequence[str] = ()) -> str:
    """Returns the log line of one epoch: its statistics, time and speed, the time `left`, then `flags`."""
    text = (f"epoch {row['epoch']}/{epochs}  {shown_statistics(row)}  {row['seconds']:.1f}s  "
            f"{row['samples_per_s']:.0f} samples/s" + (f"  ({left})" if left else ""))
    return "  ".join([text, *flags])


class Progress:
    """The progress bar of one epoch (on an interactive terminal, not with --quiet nor under CI) and the log
    lines; `muted` (a process other than rank 0) shows nothing, so lines are not printed N times."""

    def __init__(self, quiet: bool, epochs: int, muted: bool = False):
        self.muted = muted
        self.enabled = not (quiet or muted) and sys.stdout.isatty() and not os.environ.get("CI")
        self.epochs = epochs
        self._bar: Optional[tqdm] = None

    def start_epoch(self, epoch: int, steps: int, done: int = 0) -> None:
        if self.enabled:
            self._bar = tqdm(total=steps, initial=done, desc=f"epoch {epoch}/{self.epochs}", leave=False,
                             dynamic_ncols=True)

    def advance(self, steps: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(steps)

    def show(self, values: Mapping[str, float]) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(shown_statistics(values), refresh=False)

    def end_epoch(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def log(self, message: str) -> None:
        if self._bar is not None:  # never shown when muted
            self._bar.write(message)
        elif not self.muted:
            print(message, flush=True)


class StopRequests:
    """The reasons to stop early and cleanly, as a context manager around the loop: the time limit and Ctrl-C.
    The first Ctrl-C lets the step finish and a resumable checkpoint be written; a second one interrupts at once."""

    def __init__(self, max_minutes: Optional[float], several_processes: bool = False):
        self.deadline = time.monotonic() + 60.0 * max_minutes if max_minutes else None
        self.interrupted = False
        self.repeat_grace = REPEATED_SIGNAL_S if several_processes else 0.0
        self._first_signal = 0.0
        self._previous = None

    @property
    def reason(self) -> Optional[str]:
        """Returns why the run should stop now (None: carry on)."""
        if self.interrupted:
            return "interrupted"
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return "time limit"
        return None

    def _on_sigint(self, signum, frame) -> None:
        if self.interrupted:
            if time.monotonic() - self._first_signal < self.repeat_grace:
                return
            raise KeyboardInterrupt
        self.interrupted = True
        self._first_signal = time.monotonic()
        print("\nstopping after this step and saving a checkpoint (Ctrl-C again to stop at once)", flush=True)

    def __enter__(self) -> "StopRequests":
        # signal handlers can only be set from the main thread; elsewhere Ctrl-C raises as usual
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, *exc_info) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


# called with (trainer, epoch) after every epoch, before the epoch's row and checkpoint are written (evaluation)
EpochCallback = Callable[["Trainer", int], None]


@dataclass
class TrainerState:
    """Where the run stands; saved in every checkpoint under "trainer"."""

    epoch: int = 0  # completed epochs
    global_step: int = 0
    step_in_epoch: int = 0  # steps done of epoch + 1 when the run stopped inside it
    partial: dict[str, Any] = field(default_factory=dict)  # statistics of that unfinished epoch


class Trainer:
    """Runs the epochs of one training run and writes its run directory."""

    def __init__(self, config: ExperimentConfig, method: TrainingMethod, data: TrainingData, run: RunDirectory,
                 context: TrainingContext, *, best: BestTracker, callbacks: Iterable[EpochCallback] = (),
                 figure_writers: Iterable[Callable[["Trainer"], None]] = (), quiet: bool = False,
                 resume_state: Optional[dict[str, Any]] = None):
        self.config = config
        self.method = method
        self.data = data
        self.run = run
        self.context = context
        self.best = best
        self.callbacks = list(callbacks)
        self.figure_writers = list(figure_writers)
        self.processes = context.processes
        self.is_main = self.processes.is_main  # the one process that writes files and prints
        self.state = TrainerState()
        self.notes: list[str] = []
        self.health = HealthMonitor(method, config.monitor.nan_policy, advice=(
            f"The run directory keeps its last good checkpoint: lower the learning rate and continue with "
            f"`spectrogen train --resume {run.root} --learning-rate LR`, or set monitor.nan_policy=lower_lr."),
            tolerated=("grad_norm",) if context.precision == "fp16" else ())
        self.convergence = ConvergenceMonitor(config.monitor, plateau=config.training.lr_schedule == "plateau")
        self.resources = ResourceMonitor(context.device)
        # several processes share the cores by their own arrangement (torchrun sets one thread each)
        self.threads = ThreadChooser(config.training.threads,
                                     enabled=context.device.type == "cpu" and not self.processes.enabled)
        self.progress = Progress(quiet, config.training.epochs, muted=not self.is_main)
        self.epoch_log = CsvLog(run.epoch_csv)
        self.metrics_log = CsvLog(run.metrics_csv)
        if self.is_main:
            self.metrics_log.create(["epoch"])  # the table exists from the start; metric columns join later
        self.history: list[dict[str, Any]] = self.epoch_log.rows() if self.is_main else []
        self.latest_samples: Optional[np.ndarray] = None  # (n, C, H, W)
        self.latest_samples_epoch: Optional[int] = None
        self.stop_reason: Optional[str] = None
        self._stopped_elsewhere: Optional[str] = None  # this rank stopped because another one asked
        self._rng: Optional[dict[str, Any]] = None
        if resume_state is not None:
            self._load_state(resume_state)
        # only rank 0 samples, so only it measures the real side of the collapse signal
        self.fixed_samples = None
        if self.is_main:
            self.fixed_samples = FixedSamples(method, data, self.convergence, config.output.num_samples,
                                              config.training.seed, context.device,
                                              class_check=config.monitor.class_collapse_threshold > 0)
        model = config.model
        self.budget = OverheadBudget()
        self.plan = RunPlan(config.training.epochs * data.steps_per_epoch, self.state.global_step,
                            context.device.type, faster_setting(model.name, model.height, model.width,
                                                                model.features_g, model.features_d),
                            config.training.max_minutes)
        self.first_epoch = self.state.epoch  # epochs done before this process began

    def fit(self) -> Optional[str]:
        """Trains until `training.epochs`; returns why it stopped early (None when it finished)."""
        self.progress.log(self.best.describe())
        for note in self.data.notes + self.notes + [self.threads.start()]:
            if note:
                self.progress.log(f"note: {note}")
        self.health.remember()
        if self._rng is not None:
            set_rng_state(self._rng)  # last, so nothing above shifts the resumed random streams
        seed_rank_streams(self.config.training.seed, self.state.global_step, self.processes)
        with StopRequests(self.config.training.max_minutes, several_processes=self.processes.enabled) as stops:
            self.stops = stops
            try:
                for epoch in range(self.state.epoch + 1, self.config.training.epochs + 1):
                    if not self._train_epoch(epoch):
                        break
                    self._end_epoch(epoch)
                    if self._agree_to_stop(bool(self.stop_reason or stops.reason)):
                        break
            except KeyboardInterrupt:  # a second Ctrl-C: no time for a checkpoint, but final_model.tar
                self._final_is_latest()  # must not stay behind the newest one (a hard link: instant)
                raise
            finally:
                self.progress.end_epoch()
            self.stop_reason = self.stop_reason or stops.reason or self._stopped_elsewhere
        self._finish()
        return self.stop_reason

    def _train_epoch(self, epoch: int) -> bool:
        """Runs the steps of `epoch`; returns False when a stop request ended it early."""
        steps = self.data.steps_per_epoch
        start = self.state.step_in_epoch
        partial = self.state.partial if start else {}  # what the unfinished epoch had gathered
        self.accumulator = EpochAccumulator()
        self.accumulator.load_state_dict(partial.get("statistics", {}))
        self.train_seconds = float(partial.get("train_seconds", 0.0))
        self.health.epoch_events = int(partial.get("nan_events", 0))
        self.resources.start()
        self.progress.start_epoch(epoch, steps, start)
        iterations = CsvLog(self.run.iterations_csv(epoch))
        buffer = IntervalBuffer()
        log_every = self.config.output.log_every
        self.method.train(True)
        step = start
        together = self.processes.enabled  # ranks flush, and so stop, at the same steps only
        began = time.perf_counter()
        for batch in self.data.train_batches(epoch, start):
            batch.x = self.context.prepare_input(batch.x)
            statistics = self.method.train_step(batch)
            if not buffer.accepts(statistics):
                self._flush(epoch, step, buffer, iterations)
            buffer.add(statistics)
            step += 1
            self.state.global_step += 1
            self.progress.advance()
            estimate = self.plan.step()
            if estimate:
                self.progress.log(estimate)
            stopping = self.stops.reason is not None
            if step % log_every == 0 or step == steps or (stopping and not together):
                stopping = self._flush(epoch, step, buffer, iterations, stopping)
            elif together:
                stopping = False  # decided with the other processes at the next logging step
            if stopping:
                break
        seconds = time.perf_counter() - began
        self.train_seconds += seconds
        self.budget.trained(seconds)
        self.progress.end_epoch()
        if step < steps:
            self.state.step_in_epoch = step
            self.state.partial = {"statistics": self.accumulator.state_dict(), "train_seconds": self.train_seconds,
                                  "nan_events": self.health.epoch_events}
            return False
        self.state.step_in_epoch, self.state.partial = 0, {}
        return True

    def _flush(self, epoch: int, step: int, buffer: IntervalBuffer, iterations: CsvLog, stop: bool = False) -> bool:
        """Returns whether any process asked to stop, after logging the interval and applying the NaN policy."""
        keys, device_values = buffer.take()  # (n, K) on the device
        if device_values is None:
            return self._agree_to_stop(stop)
        values, agreed = interval_to_host(device_values, stop, self.processes)
        stop = self._agree_to_stop(stop, agreed)
        with np.errstate(invalid="ignore"):
            means = dict(zip(keys, values.mean(axis=0).tolist()))
        if self.is_main:
            iterations.append({"epoch": epoch, "iteration": step, "global_step": self.state.global_step, **means})
        self.accumulator.add(keys, values)
        action = self.health.check(keys, values, f"at epoch {epoch}, iterations {step - len(values) + 1}-{step}")
        if action:
            self.progress.log(f"warning: {action}")
        self.progress.show(means)
        return stop

    def _agree_to_stop(self, stop: bool, agreed: Optional[bool] = None) -> bool:
        """Returns whether any process wants to stop (`agreed` when already exchanged); all ranks call it together."""
        agreed = any_process(stop, self.processes, self.context.device) if agreed is None else agreed
        if agreed and not stop:
            self._stopped_elsewhere = "stopped by another process"
        return agreed

    def _end_epoch(self, epoch: int) -> None:
        config = self.config
        last = epoch == config.training.epochs
        row: dict[str, Any] = {"epoch": epoch, **self.accumulator.means()}
        if self.method.uses_validation and len(self.data.validation_indices):
            row.update(validation_figures(self.method, self.data, self.processes, self.context.device))
        row.update(self.method.learning_rates())  # the rates this epoch used
        row["nan_events"] = self.health.epoch_events
        row["loss_stability"] = self.convergence.stability(row)
        # optional writes wait while they have cost more than their share of the time (budget.py);
        # under several processes the schedule stays fixed, so that every rank takes the same steps
        flexible = not self.processes.enabled and not last
        if (epoch % config.output.sample_every == 0 or last) and self.is_main \
                and (not flexible or self.budget.allows("samples")):
            with self.budget.timed("samples"):  # samples/epoch_NNN.npy from the fixed noise, and the collapse figures
                samples, figures = self.fixed_samples.draw()  # (n, C, H, W)
                self.latest_samples = samples.detach().float().cpu().numpy()
                self.latest_samples_epoch = epoch
                self.run.save_samples(epoch, self.latest_samples)
                row.update(figures)
        row = from_main(row, self.processes)  # every rank takes rank 0's decisions from here on
        self.method.end_epoch(epoch, {k: v for k, v in row.items() if isinstance(v, (int, float))})
        self._plateau(row)
        self.state.epoch = epoch
        self.epoch_row = row  # this epoch's statistics so far, for callbacks (it joins `history` after them)
        if self.is_main:
            for callback in self.callbacks:
                callback(self, epoch)
        self.resources.add_train_time(self.train_seconds)
        steps = self.data.steps_per_epoch
        row.update(self.resources.finish(steps, steps * self.data.global_batch))  # all processes' examples
        if self.threads.enabled:
            row["threads"] = self.threads.threads  # the count this epoch trained on
            note = self.threads.update()
            if note:
                self.progress.log(f"note: {note}")
        if self.is_main:
            self.epoch_log.append(row)
        self.history.append(row)
        self.best.offer(epoch, row, from_metrics=False)
        if self.health.epoch_events == 0:
            self.health.remember()
        if (epoch % config.output.checkpoint_every == 0 or last) and \
                (not flexible or self.budget.allows("checkpoint") or self.budget.checkpoint_due()):
            with self.budget.timed("checkpoint"):
                self._write_checkpoints(epoch)
            self.budget.last_checkpoint = self.budget.train_seconds
        elif self.best.due and (not flexible or self.budget.allows("checkpoint")):  # else due until there is room
            if self.is_main:
                with self.budget.timed("checkpoint"):
                    save_checkpoint(self._checkpoint(), self.run.best_checkpoint)
            self.best.due = False
        if epoch % config.output.plot_every == 0 and not last and self.is_main and self.budget.allows("plots"):
            with self.budget.timed("plots"):
                self._write_plots()
        # a young generator's samples are often alike; the flag is in the CSV from epoch 1
        collapse = None
        if row.get("collapse") == 1 and epoch >= config.monitor.stability_window:
            collapse = collapse_text(row, config.monitor.model_dump(), self.data.class_names)
        flags = [f"{row['nan_events']} non-finite event(s)"] if row.get("nan_events") else []
        if collapse:
            flags.append(f"possible mode collapse: {collapse}")
        self.progress.log(epoch_line(row, config.training.epochs,
                                     self.plan.left(epoch, config.training.epochs, self.first_epoch), flags))
        if collapse and config.monitor.early_stop_on_collapse:
            self.progress.log("stopping at mode collapse, as monitor.early_stop_on_collapse asks")
            self.stop_reason = "mode collapse"

    def _plateau(self, row: dict[str, Any]) -> None:
        key = self.method.best_statistic if self.method.best_statistic in row else primary_loss(row)
        if key is not None and self.convergence.plateau(row.get(key)):
            self.method.scale_learning_rates(0.5)
            self.progress.log(f"{key} has not improved for {self.config.monitor.plateau_patience} epochs: "
                              f"learning rates halved")

    def record_checkpoint_metrics(self, epoch: int, metrics: dict[str, float]) -> None:
        """Appends `metrics` of `epoch` to checkpoint_metrics.csv; the best metric can pick best_model.tar."""
        if self.is_main:
            self.metrics_log.append({"epoch": epoch, **metrics})
        if self.best.offer(epoch, metrics, from_metrics=True):
            self.progress.log(f"new best {self.best.key} = {self.best.value:.4g} at epoch {epoch}")

    def trainer_state(self) -> dict[str, Any]:
        """Returns the "trainer" entry of a checkpoint (progress, random states, monitors, best)."""
        return {**asdict(self.state), "examples_in_epoch": self.state.step_in_epoch * self.data.global_batch,
                "processes": self.processes.world_size, "rng": rng_state(), "best": self.best.state_dict(),
                "monitor": {"health": self.health.state_dict(), "convergence": self.convergence.state_dict()},
                "scalers": self.context.state_dict()}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.state = TrainerState(epoch=int(state["epoch"]), global_step=int(state["global_step"]),
                                  step_in_epoch=int(state.get("step_in_epoch", 0)),
                                  partial=dict(state.get("partial", {})))
        self.best.load_state_dict(state.get("best", {}))
        monitor = state.get("monitor", {})
        self.health.load_state_dict(monitor.get("health", {}))
        self.convergence.load_state_dict(monitor.get("convergence", {}))
        self.context.load_state_dict(state.get("scalers", {}))
        self._rng = state.get("rng")
        examples, step = state.get("examples_in_epoch"), self.state.step_in_epoch
        if step and examples is not None and examples != step * self.data.global_batch:
            # stopped mid-epoch with another global batch: go on at the same place (at most one batch seen twice)
            self.state.step_in_epoch = int(examples) // self.data.global_batch
            self.notes.append(f"the run stopped {examples} examples into epoch {self.state.epoch + 1} with a "
                              f"different global batch; continuing at step {self.state.step_in_epoch} of it")

    def _checkpoint(self) -> dict[str, Any]:
        return build_checkpoint(model=self.config.model.name, config=config_to_dict(self.config),
                                data=self.data.description(), method=self.method.state_dict(),
                                trainer=self.trainer_state())

    def _write_checkpoints(self, epoch: int) -> None:
        self.best.checkpoint_written(epoch)  # first, so that the file itself records it as the best
        if not self.is_main:
            self.best.due = False
            return
        rolling = save_checkpoint(self._checkpoint(), self.run.rolling_checkpoint(epoch))
        prune_rolling(self.run.checkpoints_dir, self.config.output.keep_checkpoints)
        if self.best.due:
            publish_copy(rolling, self.run.best_checkpoint)
            self.best.due = False

    def _write_plots(self) -> None:
        write_plots(self.history, self.run.plots_dir, self.latest_samples, self.latest_samples_epoch,
                    self.config.monitor.collapse_threshold)
        for write in self.figure_writers:
            write(self)

    def _finish(self) -> None:
        """Writes final_model.tar (resumable even mid-epoch), best_model.tar if still missing, and the plots."""
        if not self.is_main:
            return
        final = save_checkpoint(self._checkpoint(), self.run.final_checkpoint)
        if not self.run.best_checkpoint.exists():
            publish_copy(final, self.run.best_checkpoint)
        files = sorted(self.run.samples_dir.glob("epoch_*.npy")) if self.latest_samples is None else []
        if files:  # a resumed run that drew no samples yet plots the last ones written
            self.latest_samples = np.load(files[-1])
            self.latest_samples_epoch = int(files[-1].stem.split("_")[1])
        self._write_plots()
        cause = {"interrupted": "interrupted", "stopped by another process": "another training process stopped",
                 "time limit": f"stopped at training.max_minutes={self.config.training.max_minutes or 0:g}"}
        if self.stop_reason in cause:
            where = f"epoch {self.state.epoch + 1}, step {self.state.step_in_epoch}" if self.state.step_in_epoch \
                else f"the end of epoch {self.state.epoch}"
            self.progress.log(f"{cause[self.stop_reason]} at {where}; saved {final}. Continue with: "
                              f"spectrogen train --resume {self.run.root}")

    def _final_is_latest(self) -> None:
        """Makes final_model.tar the newest rolling checkpoint when it records less progress (or is missing)."""
        rolling = rolling_checkpoints(self.run.checkpoints_dir) if self.is_main else []
        if not rolling:
            return
        final = self.run.final_checkpoint
        try:
            behind = not final.is_file() or progress_of(load_checkpoint(final, mmap=True)) < \
                progress_of(load_checkpoint(rolling[-1], mmap=True))
        except CheckpointError:
            behind = True
        if behind:
            publish_copy(rolling[-1], final)
