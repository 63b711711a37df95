"""`train()`: the Python API behind `spectrogen train`. Nothing is written until the configuration, the data
set, the model and (on resume) the checkpoint have all been checked, so a mistake never leaves a half-made run
directory. The run is composed here: evaluation, TensorBoard, the family's figures and statistics, the report."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np
import torch

from spectrogen.config import ExperimentConfig, build_config, config_to_dict
from spectrogen.config.loader import apply_overrides
from spectrogen.errors import CheckpointError, ConfigError, SpectrogenError, UsageError
from spectrogen.metrics.during_training import build_callback
from spectrogen.models.method import TrainingMethod
from spectrogen.models.registry import build_method
from spectrogen.report import autoencoder_figures, diffusion_figures, write_report
from spectrogen.report.tensorboard import tensorboard_callback
from spectrogen.training.checkpoint import BestTracker, find_resume_checkpoint, load_checkpoint, progress_of
from spectrogen.training.data_loading import TrainingData, data_info, open_dataset
from spectrogen.training.device import TrainingContext, prepare_networks, resolve_device
from spectrogen.training.distributed import (SINGLE, Processes, environment_processes, process_device, start, stop,
                                             wrap_networks)
from spectrogen.training.run_directory import RunDirectory, RunLock, resume_notice, run_of_checkpoint
from spectrogen.training.small_data import resolve_settings
from spectrogen.training.trainer import EpochCallback, Trainer

# what a model family adds to the trainer's own figures and epoch statistics
FAMILY_FIGURES = {"diffusion": [diffusion_figures.write_figures], "autoencoder": [autoencoder_figures.write_figures]}
FAMILY_CALLBACKS = {"autoencoder": [autoencoder_figures.speech_scores]}


def seed_everything(seed: int) -> None:
    """Seeds Python's `random`, numpy's global generator and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _resume_config(checkpoint: dict[str, Any], overrides: list[tuple[str, Any]], path: Path,
                   is_main: bool) -> ExperimentConfig:
    """Returns the checkpoint's saved configuration with `overrides` applied and validated."""
    overrides = list(overrides)
    saved = checkpoint["config"]
    keys = {key for key, _ in overrides}
    training = saved.get("training", {})
    if "training.learning_rate" in keys and "training.learning_rate_d" not in keys \
            and training.get("learning_rate_d") == training.get("learning_rate"):
        # the critic's rate followed the generator's when the run began; keep it that way
        overrides.append(("training.learning_rate_d", dict(overrides)["training.learning_rate"]))
    config = build_config(apply_overrides(saved, overrides), source=f"{path} (saved configuration + overrides)")
    if config.model.name != checkpoint["model"]:
        raise ConfigError(f"model.name cannot change on resume: {path} holds a {checkpoint['model']} model")
    notice = resume_notice(path, saved, overrides)  # hand edits of experiment_config.json the resume leaves out
    if notice and is_main:
        print(f"note: {notice}", flush=True)
    return config


def _print_dry_run(config: ExperimentConfig, method: TrainingMethod, device: torch.device, dataset,
                   run: RunDirectory, resume: Optional[Path]) -> None:
    counts = method.parameter_counts()
    training, model = config.training, config.model
    data = "data: none given (shape and classes from the configuration)"
    if dataset is not None:
        features = dataset.features
        data = (f"data: {config.data.path}  {len(features)} examples of {features.shape[1]}x{features.shape[2]} "
                f"(F x T), normalisation {config.data.normalization}")
    print("\n".join([
        f"model: {model.name}  examples (C, H, W) = {tuple(method.info.shape)}  classes: {method.info.num_classes}",
        "parameters:", *(f"  {name:<16} {count:>12,}" for name, count in counts.items()),
        f"  {'total':<16} {sum(counts.values()):>12,}", data,
        f"training: {training.epochs} epochs, batch {training.batch_size}, loss {training.loss}, "
        f"lr {training.learning_rate:g} (critic {training.learning_rate_d:g}), "
        f"critic steps {training.critic_steps}, seed {training.seed}",
        f"device: {device}, precision {TrainingContext.from_config(training, device).precision}",
        f"output: {run.root}" + (f" (resuming from {resume})" if resume else ""),
        "dry run: nothing was written"]))


def _resumed_run(resume: str | Path, overrides: list[tuple[str, Any]], is_main: bool = True):
    """Returns (config, run directory, checkpoint, its path) of a run to continue."""
    checkpoint_path = find_resume_checkpoint(resume)
    checkpoint = load_checkpoint(checkpoint_path)
    config = _resume_config(checkpoint, overrides, checkpoint_path, is_main)
    own_run = run_of_checkpoint(checkpoint_path)
    overridden = any(key == "output.output_dir" for key, _ in overrides)
    run = RunDirectory(Path(config.output.output_dir) if overridden or own_run is None else own_run)
    if is_main and (own_run is None or run.root.resolve() != own_run.resolve()):
        # continuing into another folder: that folder must not hold a different run
        run.refuse_existing()
    config.output.output_dir = str(run.root)
    if progress_of(checkpoint)[0] >= config.training.epochs and not _unfinished(run, checkpoint_path, config):
        raise UsageError(f"{checkpoint_path} already completed training.epochs={config.training.epochs}; "
                         f"to train longer, resume with a larger --epochs")
    return config, run, checkpoint, checkpoint_path


def _unfinished(run: RunDirectory, checkpoint_path: Path, config: ExperimentConfig) -> bool:
    """Returns whether the run of `checkpoint_path` did all its epochs but was stopped (killed, say) before
    final_model.tar recorded them: the resume then only writes final_model.tar and the figures."""
    if checkpoint_path.parent.resolve() != run.checkpoints_dir.resolve():
        return False
    final = run.final_checkpoint
    try:
        return not final.is_file() or progress_of(load_checkpoint(final, mmap=True))[0] < config.training.epochs
    except CheckpointError:
        return True


def _new_run(config: Optional[ExperimentConfig], overrides: list[tuple[str, Any]], overwrite: bool,
             is_main: bool = True):
    """Returns (config, run directory) of a run to start; refuses a folder holding a run unless `overwrite`."""
    if config is None:
        raise UsageError("give a configuration to train, or --resume RUN_DIR to continue a run")
    if overrides:
        config = build_config(apply_overrides(config_to_dict(config), overrides))
    run = RunDirectory(config.output.output_dir)
    if is_main:  # the other processes never look into the output directory
        run.check_new_run(overwrite)
    return config, run


def _attach_context(method: TrainingMethod, config: ExperimentConfig, device: torch.device,
                    processes: Processes = SINGLE) -> TrainingContext:
    """Returns the context given to `method`, its networks prepared (channels-last, compile, DDP for trained ones)."""
    context = TrainingContext.from_config(config.training, device, processes)
    method.context = context
    # a method that wrapped its networks in torch.compile itself is not compiled twice
    compile_networks = config.training.compile and not any(
        isinstance(value, torch._dynamo.eval_frame.OptimizedModule) for value in vars(method).values())
    prepare_networks(method.networks, context, compile_networks)
    trained = [name for name in method.networks if name in method.optimizers]
    method.replicas = wrap_networks(method.networks, trained, device, processes)
    return context


def train(config: Optional[ExperimentConfig], *, resume: Optional[str | Path] = None,
          overrides: Iterable[tuple[str, Any]] = (), overwrite: bool = False, dry_run: bool = False,
          quiet: bool = False, callbacks: Iterable[EpochCallback] = (),
          fit_to_data: Optional[Iterable[str]] = None) -> Path:
    """Returns the run directory after training `config` (or continuing the run `resume` names).
    `overrides`: (dotted key, value) pairs, on resume applied to the saved configuration. `callbacks` are called
    after each epoch with (trainer, epoch); under torchrun only rank 0 writes or calls them. Ctrl-C saves a
    checkpoint, then raises KeyboardInterrupt. `fit_to_data` (the dotted keys the user set) lets a small data set
    choose the other settings of a new run."""
    overrides = list(overrides)
    processes = environment_processes()
    checkpoint = checkpoint_path = None
    if resume is not None:
        config, run, checkpoint, checkpoint_path = _resumed_run(resume, overrides, processes.is_main)
    else:
        config, run = _new_run(config, overrides, overwrite, processes.is_main)

    # from here until the end of the run no other process may write into the folder
    lock = RunLock(run.root).acquire() if processes.is_main and not dry_run else None
    try:
        return _train_locked(config, run, checkpoint, checkpoint_path, processes, overwrite=overwrite,
                             dry_run=dry_run, quiet=quiet, callbacks=callbacks, fit_to_data=fit_to_data)
    finally:
        if lock is not None:  # a folder made for a run that stopped before writing anything goes again
            lock.release(remove_empty_root=True)


def _train_locked(config: ExperimentConfig, run: RunDirectory, checkpoint: Optional[dict[str, Any]],
                  checkpoint_path: Optional[Path], processes: Processes, *, overwrite: bool, dry_run: bool,
                  quiet: bool, callbacks: Iterable[EpochCallback], fit_to_data: Optional[Iterable[str]]) -> Path:
    device = resolve_device(config.training.device)
    if not dry_run:
        device = process_device(device, processes)
        if device.type == "cuda":
            torch.cuda.set_device(device)  # NCCL and the allocator work on the current device
    dataset = None if dry_run and not config.data.path else open_dataset(config.data.path)
    notes: list[str] = []
    if checkpoint is None and dataset is not None:
        # a configuration file or preset is kept as it is; what is known to go wrong is still said
        config, notes = resolve_settings(config, dataset, fit_to_data, device.type)
    info = data_info(dataset, config)
    seed_everything(config.training.seed)
    method = build_method(config, info, torch.device("cpu") if dry_run else device)
    if checkpoint is not None:
        try:
            method.load_state_dict(checkpoint["method"])
        except (RuntimeError, KeyError, ValueError) as exc:
            raise CheckpointError(f"its networks do not fit the configuration ({str(exc).splitlines()[0][:160]}); "
                                  f"model settings cannot change on resume", checkpoint_path) from None
    evaluation = build_callback(config)
    # the family's statistics join the row before the TensorBoard callback reads it
    callbacks = [*FAMILY_CALLBACKS.get(method.name, []), *callbacks]
    if config.output.tensorboard:  # built before anything is written: a missing package stops the run here
        callbacks.append(tensorboard_callback(config))
    if dry_run:
        if processes.is_main:
            _print_dry_run(config, method, device, dataset, run, checkpoint_path)
        return run.root
    data = TrainingData(dataset, config, device, validation=method.uses_validation, processes=processes)
    method.mapping = data.mapping
    old_rate = checkpoint["config"].get("training", {}).get("learning_rate") if checkpoint is not None else None
    if old_rate and config.training.learning_rate and not np.isclose(old_rate, config.training.learning_rate):
        # optimizer states carry their own rates; a --learning-rate given on resume rescales them
        method.scale_learning_rates(config.training.learning_rate / old_rate)

    # joining waits for every process: none writes unless all have validated their side
    processes = start(processes, device)
    completed = False
    trainer = None
    try:
        if processes.is_main:
            # everything is valid: from here on the run directory is written
            if overwrite and checkpoint is None:
                run.clear_run()
            run.create()
            if checkpoint is not None:
                run.rewind(*progress_of(checkpoint))
            run.write_config(config_to_dict(config))

        context = _attach_context(method, config, device, processes)
        best = BestTracker.choose(metric=config.evaluation.best_metric if evaluation else None,
                                  statistic=method.best_statistic)
        trainer = Trainer(config, method, data, run, context, best=best,
                          callbacks=[callback for callback in (evaluation, *callbacks) if callback is not None],
                          figure_writers=FAMILY_FIGURES.get(method.name, []), quiet=quiet,
                          resume_state=checkpoint["trainer"] if checkpoint is not None else None)
        trainer.notes += notes
        stopped = trainer.fit()
        completed = True
        if stopped == "interrupted":
            raise KeyboardInterrupt  # after the checkpoint: the CLI exits 130 without a traceback
        if config.output.report and processes.is_main:
            try:
                write_report(run.root)
            except SpectrogenError as exc:  # the run itself is complete and saved; only the page is missing
                print(f"report.html was not written: {exc}; retry with `spectrogen report {run.root}`")
    finally:
        if trainer is not None:
            trainer.threads.close()
        method.replicas = {}
        stop(processes, completed=completed)
    return run.root


__all__ = ["train", "seed_everything"]
