"""Benchmark: DDIM in 50 steps against ancestral DDPM over all 1000 steps, on the built-in digits.

Both samplers run the same EMA U-Net from the same initial noise, in the same process, so the
ratios compare like with like:

- time: seconds to generate `--n` samples (DDPM-1000 / DDIM-50; the network-call count alone
  predicts 20);
- quality: the mean distance (RMS per pixel, in [-1, 1] units) from each sample to its nearest
  training digit, against the same figure for held-out real digits (the floor: what real data
  scores) and for pure noise (the ceiling);
- FID in the feature space of the evaluation module's classifier (`spectrogen.metrics`), trained
  here on the training split, between held-out real digits and the samples. With a few dozen
  samples FID is biased upwards; compare the two samplers with each other, not with published
  figures.

The model is trained briefly inside the benchmark (a small U-Net, `--train-steps` steps), or taken
from `--checkpoint`, a diffusion checkpoint trained on `spectrogen prepare builtin:digits`.

    python benchmarks/diffusion_sampling.py                         # train 600 steps, 64 samples
    python benchmarks/diffusion_sampling.py --train-steps 200 --n 16 --threads 1   # a quick CPU run
    python benchmarks/diffusion_sampling.py --checkpoint runs/digits/checkpoints/final_model.tar
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch


def digits_split(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Returns (train x, train labels, held-out x, held-out labels); x (N, 1, 32, 32) in [-1, 1]."""
    from spectrogen.data.sources.builtin import load_digits_32

    images, labels = load_digits_32()  # (N, 32, 32) in [0, 1]
    order = np.random.default_rng(seed).permutation(len(images))
    held_out, train = order[:300], order[300:]
    x = torch.from_numpy(images)[:, None] * 2.0 - 1.0  # minmax normalisation of the [0, 1] images
    y = torch.from_numpy(labels)
    return x[train], y[train], x[held_out], y[held_out]


def train_small_model(x: torch.Tensor, y: torch.Tensor, steps: int, batch_size: int, device: torch.device):
    """Returns a DiffusionMethod with a small class-conditional U-Net trained `steps` steps on (x, y)."""
    from spectrogen.config import build_config
    from spectrogen.models.registry import build_method
    from spectrogen.data.info import Batch, DataInfo

    config = build_config({
        "data": {"normalization": "minmax"},
        "model": {"name": "diffusion", "image_size": 32,
                  "diffusion": {"base_channels": 16, "channel_multipliers": [1, 2, 2], "attention": True}},
        "training": {"learning_rate": 1e-3, "batch_size": batch_size},
    })
    method = build_method(config, DataInfo((1, 32, 32), [str(i) for i in range(10)]), device)
    generator = torch.Generator().manual_seed(0)
    started = time.perf_counter()
    for step in range(1, steps + 1):
        index = torch.randint(0, len(x), (batch_size,), generator=generator)
        loss = method.train_step(Batch(x[index].to(device), y[index].to(device)))["loss"]
        if step % 100 == 0 or step == steps:
            print(f"  training step {step}/{steps}  loss {loss.item():.4f}  {time.perf_counter() - started:.0f} s",
                  flush=True)
    return method


def load_checkpoint_model(path: str, device: torch.device):
    """Returns (method, normalise) of a diffusion checkpoint; normalise maps [0, 1] digits to its range."""
    from spectrogen.sampling.load import load_generator

    loaded = load_generator(path, device=device)
    if loaded.model_name != "diffusion":
        raise SystemExit(f"{path} holds a {loaded.model_name} model; this benchmark compares diffusion samplers")
    if tuple(loaded.shape) != (1, 32, 32):
        raise SystemExit(f"{path} makes {loaded.shape} examples; train on `prepare builtin:digits` (32x32)")

    def normalise(images01: torch.Tensor) -> torch.Tensor:
        if loaded.normalizer is None:
            return images01 * 2.0 - 1.0
        return loaded.normalizer(images01[:, 0].to(loaded.method.device)).unsqueeze(1).cpu()

    return loaded.method, normalise


def mean_nearest_distance(samples: torch.Tensor, reference: torch.Tensor) -> float:
    """Returns the mean over samples of the RMS-per-pixel distance to the nearest reference example."""
    from spectrogen.metrics.neighbours import nearest_distances

    return float(nearest_distances(samples.numpy(), reference.numpy()).mean() / math.sqrt(samples[0].numel()))


def timed_samples(method, n: int, sampler: str, steps: int, seed: int) -> tuple[torch.Tensor, float]:
    """Returns (samples (n, 1, H, W) on the host, seconds) of one sampler from the seed's noise."""
    if method.device.type == "cuda":
        torch.cuda.synchronize(method.device)
    started = time.perf_counter()
    samples = method.sample(n, generator=torch.Generator().manual_seed(seed), sampler=sampler, steps=steps,
                            eta=0.0, batch_size=n)
    if method.device.type == "cuda":
        torch.cuda.synchronize(method.device)
    return samples.cpu(), time.perf_counter() - started


def fid_figures(train_x, train_y, held_out_x, samples: dict[str, torch.Tensor]) -> dict[str, float]:
    """Returns FID of each sample set against the first 150 held-out digits, in a classifier trained here."""
    from spectrogen.metrics import ClassifierOptions, fid, train_classifier

    print("  training the evaluation classifier on the training digits ...", flush=True)
    classifier = train_classifier(train_x[:, 0].numpy(), train_y.numpy(), [str(i) for i in range(10)],
                                  ClassifierOptions(epochs=5))
    print(f"  classifier held-out accuracy: {classifier.heldout.get('accuracy', float('nan')):.3f}")
    reference = classifier.extract(held_out_x[:150].numpy()).embeddings  # real samples come from the rest
    return {name: fid(reference, classifier.extract(x.numpy()).embeddings) for name, x in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="a diffusion checkpoint trained on builtin:digits (else train here)")
    parser.add_argument("--train-steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--n", type=int, default=64, help="samples per sampler")
    parser.add_argument("--ddim-steps", type=int, default=50)
    parser.add_argument("--no-fid", action="store_true", help="skip training the classifier for FID")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)

    train_x, train_y, held_out_x, _ = digits_split(args.seed)
    if args.checkpoint:
        method, normalise = load_checkpoint_model(args.checkpoint, device)
        train_x, held_out_x = normalise((train_x + 1) / 2), normalise((held_out_x + 1) / 2)
        source = args.checkpoint
    else:
        print(f"training a small U-Net (base 16, levels 1-2-2, attention) for {args.train_steps} steps ...")
        method = train_small_model(train_x, train_y, args.train_steps, args.batch_size, device)
        source = f"trained here, {args.train_steps} steps of {args.batch_size}"
    ddpm_steps = method.schedule.num_train_timesteps

    timed_samples(method, 2, "ddim", 2, args.seed)  # warm-up: allocator, kernels
    ddim, ddim_seconds = timed_samples(method, args.n, "ddim", args.ddim_steps, args.seed)
    print(f"  DDIM-{args.ddim_steps}: {ddim_seconds:.1f} s", flush=True)
    ddpm, ddpm_seconds = timed_samples(method, args.n, "ddpm", ddpm_steps, args.seed)
    print(f"  DDPM-{ddpm_steps}: {ddpm_seconds:.1f} s", flush=True)
    noise = torch.randn(held_out_x[: args.n].shape, generator=torch.Generator().manual_seed(args.seed))

    distance = {"held-out real digits": mean_nearest_distance(held_out_x[: args.n], train_x),
                f"DDIM-{args.ddim_steps}": mean_nearest_distance(ddim, train_x),
                f"DDPM-{ddpm_steps}": mean_nearest_distance(ddpm, train_x),
                "pure noise": mean_nearest_distance(noise, train_x)}
    fid_sets = {"held-out real digits": held_out_x[150:][: args.n], f"DDIM-{args.ddim_steps}": ddim,
                f"DDPM-{ddpm_steps}": ddpm}
    fids = {} if args.no_fid else fid_figures(train_x, train_y, held_out_x, fid_sets)

    print(f"\nmodel: {source}; device {device}, {torch.get_num_threads()} thread(s); {args.n} samples each")
    print(f"sampling time   DDIM-{args.ddim_steps} {ddim_seconds:8.2f} s   DDPM-{ddpm_steps} {ddpm_seconds:8.2f} s"
          f"   ratio DDPM/DDIM {ddpm_seconds / ddim_seconds:6.1f}x"
          f"  (network calls {ddpm_steps / args.ddim_steps:.0f}x)")
    print("nearest-training-digit distance (RMS per pixel, lower is nearer the data):")
    floor = distance["held-out real digits"]
    for name, value in distance.items():
        print(f"  {name:22s} {value:7.4f}   / held-out real {value / floor:5.2f}")
    if fids:
        print("FID against held-out real digits (classifier features; biased upwards at this sample count):")
        for name, value in fids.items():
            print(f"  {name:22s} {value:9.3f}")
        ddim_fid, ddpm_fid = fids[f"DDIM-{args.ddim_steps}"], fids[f"DDPM-{ddpm_steps}"]
        print(f"  ratio FID DDIM/DDPM {ddim_fid / ddpm_fid:.2f}")


if __name__ == "__main__":
    main()
