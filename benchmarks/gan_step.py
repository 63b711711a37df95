"""Seconds per generator step of SpecGAN with WGAN-GP: a hand-written loop, GANMethod.train_step, the trainer.

One generator step is `--critic-steps` critic updates (each on its own real batch, with the gradient
penalty) and one generator update. Three ways to run it, timed in the same process and under the
same machine load: after every trainer epoch (an epoch callback) the bare loop and the method each
run the same number of generator steps, so each epoch gives one ratio of each kind. Epoch 1 warms up
(allocator, torch.compile) and is not counted; the medians of the later epochs are printed.

  (a) bare     the seeds' loop written out by hand: same networks, optimizers, loss and penalty
  (b) method   `GANMethod.train_step` on batches already on the device
  (c) trainer  `spectrogen.api.train`: data batches, statistics, NaN checks, CSV rows
               (`step_time_ms` of epoch_statistics.csv; per-epoch sampling and saving excluded)

  python benchmarks/gan_step.py                                  # issue 3: dim 64, 128x128, batch 16
  python benchmarks/gan_step.py --dim 16 --size 64 --steps 3     # a quick CPU run
  python benchmarks/gan_step.py --compile                        # torch.compile (G, and D but not its penalty)
  python benchmarks/gan_step.py --channels-last --precision bf16 # CUDA options
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from spectrogen.config import build_config
from spectrogen.models.registry import build_method
from spectrogen.models.gan_stacks import SpecGANDiscriminator, SpecGANGenerator
from spectrogen.api import train
from spectrogen.training.csv_log import CsvLog
from spectrogen.training.device import TrainingContext, prepare_networks, resolve_device
from spectrogen.data.info import Batch, DataInfo

from random_dataset import write_dataset  # benchmarks/random_dataset.py

LATENT = 100


class BareLoop:
    """The loop of seeds 001/002 by hand: critic updates with the WGAN-GP penalty, then one generator update."""

    def __init__(self, config, context: TrainingContext, batches: list[torch.Tensor]):
        model, training = config.model, config.training
        size = (model.image_size, model.image_size)
        self.generator = SpecGANGenerator(LATENT, model.features_g, size).to(context.device)
        self.critic = SpecGANDiscriminator(model.features_d, size).to(context.device)
        prepare_networks({"g": self.generator, "d": self.critic}, context, training.compile)
        betas = (training.beta1, training.beta2)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=training.learning_rate, betas=betas)
        self.opt_d = torch.optim.Adam(self.critic.parameters(), lr=training.learning_rate_d, betas=betas)
        self.context, self.batches = context, batches
        self.critic_steps, self.gp_lambda = training.critic_steps, training.gp_lambda

    def latent(self, n: int) -> torch.Tensor:
        return torch.rand(n, LATENT, device=self.context.device) * 2 - 1  # SpecGAN's uniform z

    def generator_step(self) -> torch.Tensor:
        for real in self.batches[:self.critic_steps]:
            n = real.shape[0]
            with torch.no_grad(), self.context.autocast():
                fake = self.generator(self.latent(n))
            with self.context.autocast():
                loss = self.critic(fake).float().mean() - self.critic(real).float().mean()
            alpha = torch.rand(n, 1, 1, 1, device=real.device)
            mixed = (real + alpha * (fake.float() - real)).requires_grad_(True)
            # the plain forward: a compiled module has no double backward
            (grads,) = torch.autograd.grad(self.critic.forward(mixed).sum(), mixed, create_graph=True)
            penalty = ((grads.flatten(1).norm(dim=1) - 1) ** 2).mean()
            self.opt_d.zero_grad(set_to_none=True)
            (loss + self.gp_lambda * penalty).backward()
            self.opt_d.step()
        with self.context.autocast():
            loss_g = -self.critic(self.generator(self.latent(self.batches[0].shape[0]))).float().mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        return loss_g.detach()


class MethodLoop:
    """`critic_steps` calls of GANMethod.train_step per generator step, on device batches."""

    def __init__(self, config, context: TrainingContext, batches: list[torch.Tensor]):
        size = config.model.image_size
        self.method = build_method(config, DataInfo((1, size, size)), context.device)
        self.method.context = context
        prepare_networks(self.method.networks, context, config.training.compile)
        self.batches = batches

    def generator_step(self) -> torch.Tensor:
        for real in self.batches[:self.method.critic_steps]:
            statistics = self.method.train_step(Batch(real))
        return statistics["loss_g"]


class Rounds:
    """An epoch callback timing `steps` generator steps of each loop, under the trainer's machine load."""

    def __init__(self, loops: dict[str, object], steps: int, device: torch.device):
        self.loops, self.steps, self.device = loops, steps, device
        self.seconds: dict[str, list[float]] = {name: [] for name in loops}

    def __call__(self, trainer=None, epoch: int = 0) -> None:
        # the trainer's random streams must not move, or its epochs would differ from a plain run
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            for name, loop in self.loops.items():
                began = time.perf_counter()
                for _ in range(self.steps):
                    last = loop.generator_step()
                float(last)  # waits for the device
                self.seconds[name].append((time.perf_counter() - began) / self.steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--critic-steps", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5, help="timed generator steps per epoch and loop")
    parser.add_argument("--epochs", type=int, default=3, help="epoch 1 warms up; the others are measured")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--no-trainer", action="store_true", help="time (a) and (b) only")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    calls = args.steps * args.critic_steps
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        write_dataset(data, count=calls * args.batch, size=args.size)
        config = build_config({
            "data": {"path": str(data), "normalization": "per_frequency"},
            "model": {"name": "specgan", "image_size": args.size, "features_g": args.dim,
                      "features_d": args.dim, "latent_dim": LATENT},
            "training": {"epochs": args.epochs, "batch_size": args.batch, "critic_steps": args.critic_steps,
                         "device": args.device, "precision": args.precision, "max_steps_per_epoch": calls,
                         "channels_last": args.channels_last, "compile": args.compile},
            "output": {"output_dir": str(Path(folder) / "run"), "log_every": 10, "num_samples": 4,
                       "plot_every": 1000, "report": False}})
        device = resolve_device(config.training.device)
        context = TrainingContext.from_config(config.training, device)
        torch.manual_seed(0)
        batches = [context.prepare_input(torch.rand(args.batch, 1, args.size, args.size, device=device) * 2 - 1)
                   for _ in range(args.critic_steps)]
        rounds = Rounds({"bare": BareLoop(config, context, batches), "method": MethodLoop(config, context, batches)},
                        args.steps, device)
        trainer_seconds: list[float] = []
        if args.no_trainer:
            for _ in range(args.epochs):
                rounds()
        else:
            out = train(config, quiet=True, callbacks=[rounds])
            rows = CsvLog(out / "epochs_statistics" / "epoch_statistics.csv").rows()
            trainer_seconds = [row["step_time_ms"] / 1000.0 * args.critic_steps for row in rows]

    measured = slice(1, None) if args.epochs > 1 else slice(None)
    median = {name: statistics.median(values[measured]) for name, values in rounds.seconds.items()}
    print(f"specgan dim {args.dim}, {args.size}x{args.size}, batch {args.batch}, wgan-gp, "
          f"{args.critic_steps} critic steps; device {device}, precision {context.precision}, "
          f"channels_last {context.channels_last}, compile {args.compile}, threads {torch.get_num_threads()}")
    print(f"seconds per generator step (median of {len(rounds.seconds['bare'][measured])} epochs "
          f"x {args.steps} steps):")
    for name, values in rounds.seconds.items():
        print(f"  per epoch, {name}: " + ", ".join(f"{v:.3f}" for v in values))
    if trainer_seconds:
        print("  per epoch, trainer: " + ", ".join(f"{v:.3f}" for v in trainer_seconds))
    print(f"  (a) bare loop      {median['bare']:.3f}")
    print(f"  (b) method         {median['method']:.3f}   ratio to bare {median['method'] / median['bare']:.3f}")
    if trainer_seconds:
        # per epoch, against the bare round run right after it under the same load
        ratios = [t / b for t, b in zip(trainer_seconds[measured], rounds.seconds["bare"][measured])]
        vs_method = [t / m for t, m in zip(trainer_seconds[measured], rounds.seconds["method"][measured])]
        print(f"  (c) trainer        {statistics.median(trainer_seconds[measured]):.3f}   "
              f"ratio to bare {statistics.median(ratios):.3f}, to method {statistics.median(vs_method):.3f} "
              f"(the trainer may add at most 5% to the method)")


if __name__ == "__main__":
    main()
