"""Train a model on a prepared data set.

Examples:
  spectrogen train --data DATA                          # DCGAN, production preset
  spectrogen train --config test --model specgan --data DATA --output-dir runs/specgan
  spectrogen train --config my.json --set training.loss=hinge --set model.features_d=32
  spectrogen train --resume runs/specgan                # continue a stopped run
  spectrogen train --model specgan --dry-run            # print the resolved config and parameter counts

The configuration (--config) is a preset (default, test, template) or a JSON file; comments are
allowed. Flags override it; --set section.key=value reaches any field.
"""

from __future__ import annotations

import argparse
import json

from spectrogen.api import train
from spectrogen.config import config_to_dict, load_config, parse_override
from spectrogen.errors import UsageError
from spectrogen.training.distributed import environment_processes
from spectrogen.training.summary import summary_lines

# flag -> dotted configuration key
OVERRIDE_FLAGS = {"epochs": "training.epochs", "batch_size": "training.batch_size",
                  "learning_rate": "training.learning_rate", "image_size": "model.image_size",
                  "image_width": "model.image_width", "features_g": "model.features_g",
                  "features_d": "model.features_d", "device": "training.device", "output_dir": "output.output_dir",
                  "model": "model.name", "data": "data.path", "seed": "training.seed"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, metavar="PRESET_OR_FILE",
                        help="preset name (default, test, template) or a JSON file; default: default")
    group = parser.add_argument_group("overrides (each sets one configuration field)")
    group.add_argument("--model", choices=["dcgan", "specgan", "cgan", "diffusion", "autoencoder"])
    group.add_argument("--data", metavar="DATA", help="data set folder made by `spectrogen prepare`")
    group.add_argument("--epochs", type=int)
    group.add_argument("--batch-size", type=int)
    group.add_argument("--learning-rate", type=float)
    group.add_argument("--image-size", type=int, help="model height (frequency rows); with no --image-width, "
                       "the model is square")
    group.add_argument("--image-width", type=int, help="model width (frames), e.g. 256 for 2 s of 16-kHz audio "
                       "at 128 rows; match `prepare --frames`")
    group.add_argument("--features-g", type=int)
    group.add_argument("--features-d", type=int)
    group.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    group.add_argument("--output-dir", metavar="DIR")
    group.add_argument("--seed", type=int)
    group.add_argument("--set", dest="settings", action="append", default=[], metavar="SECTION.KEY=VALUE",
                       help="set any configuration field, e.g. --set training.loss=hinge (repeatable)")
    run_group = parser.add_argument_group("run")
    run_group.add_argument("--resume", metavar="RUN_DIR_OR_CHECKPOINT",
                           help="continue a run from its latest checkpoint (its saved configuration is used)")
    run_group.add_argument("--overwrite", action="store_true",
                           help="replace a run already in --output-dir (otherwise refused)")
    run_group.add_argument("--dry-run", action="store_true",
                           help="validate, build the model, print parameter counts; write nothing")
    run_group.add_argument("--print-config", action="store_true", help="print the resolved configuration and exit")
    run_group.add_argument("--quiet", action="store_true", help="no progress bar; log lines only")
    run_group.add_argument("--tensorboard", action="store_true", help="also write TensorBoard event files")


def overrides_from_args(args: argparse.Namespace) -> list[tuple[str, object]]:
    """Returns the (dotted key, value) pairs that --set and the override flags of `args` ask for; a flag and a
    --set that give one field different values are refused, naming both (else the flag would win silently)."""
    settings = [(text, *parse_override(text)) for text in args.settings]
    flags = [(flag, key, getattr(args, flag)) for flag, key in OVERRIDE_FLAGS.items()
             if getattr(args, flag, None) is not None]
    for flag, key, value in flags:
        for text, set_key, set_value in settings:
            # a --set value is read as JSON when it can be: "5" and 5 are one setting
            if set_key == key and value != set_value and str(value) != str(set_value):
                raise UsageError(f"--{flag.replace('_', '-')} {value} and --set {text} give {key} two values; "
                                 f"give it once")
    return [(key, value) for _, key, value in [*settings, *flags]]


def run(args: argparse.Namespace) -> int:
    if args.tensorboard:
        args.settings.append("output.tensorboard=true")
    overrides = overrides_from_args(args)
    if args.print_config:
        print(json.dumps(config_to_dict(load_config(args.config, overrides)), indent=2))
        return 0
    if args.resume:
        # the run's saved configuration is used; flags given here (e.g. more --epochs) are applied to it
        root = train(None, resume=args.resume, overrides=overrides, dry_run=args.dry_run, quiet=args.quiet)
    else:
        # the default preset's values are defaults a small data set may change; a named preset or a
        # configuration file is the user's choice
        given = None if args.config not in (None, "default") else {key for key, _ in overrides}
        root = train(load_config(args.config, overrides), overwrite=args.overwrite, dry_run=args.dry_run,
                     quiet=args.quiet, fit_to_data=given)
    if not args.dry_run and environment_processes().is_main:
        print("\n".join(summary_lines(root)), flush=True)
    return 0
