"""Training throughput of each family on the current device, with and without each single-device option.

For every family (dcgan, specgan, cgan, diffusion, autoencoder) the method is built as `train()`
builds it and fed one batch already on the device; `train_step` runs `--steps` times per round. The
options (each switched on alone, then all together):

  precision   training.precision=auto: bf16 where the GPU has it, else fp16 with a gradient scaler
              (the trainer keeps fp32 on the CPU, so this row measures that it costs nothing there)
  channels    training.channels_last (CUDA only, likewise)
  compile     training.compile (torch.compile of every network; the first round pays the compilation)
  fused       Adam/AdamW with fused=True (on by default on CUDA; forced on here to measure it on CPU)

Rounds interleave the variants (baseline, option, baseline, ...), so they see the same machine load;
the first round warms up and is not counted, the median of the others is printed, and each option's
ratio to the baseline of the same rounds. On CUDA, the FLOPs of one step are counted with
`torch.utils.flop_counter.FlopCounterMode` and the achieved TFLOP/s are compared with the device's
peak (dense bf16/fp16 tensor-core peak for mixed precision, TF32 for fp32; from a small table of
common GPUs, or `--peak-tflops`).

  python benchmarks/throughput.py                              # all families, CPU-sized networks
  python benchmarks/throughput.py --family specgan --size 128 --width 64 --batch 64   # on a GPU
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Optional

import torch

from spectrogen.config import build_config
from spectrogen.models.registry import build_method
from spectrogen.api import _attach_context, seed_everything
from spectrogen.training.device import resolve_device
from spectrogen.data.info import Batch, DataInfo

FAMILIES = ("dcgan", "specgan", "cgan", "diffusion", "autoencoder")
OPTIONS = ("precision", "channels", "compile", "fused")

# dense peak TFLOP/s (bf16/fp16 tensor cores, TF32 tensor cores) by a substring of the device name
PEAK_TFLOPS = {
    "H200": (989.0, 494.0), "H100 80GB HBM3": (989.0, 494.0), "H100 SXM": (989.0, 494.0), "H100 NVL": (835.0, 418.0), "H100 PCIe": (756.0, 378.0),
    "H100": (756.0, 378.0), "A100": (312.0, 156.0), "A10G": (70.0, 35.0), "A10": (125.0, 62.5),
    "L40S": (362.0, 183.0), "L40": (181.0, 90.5), "L4": (121.0, 60.0), "RTX 4090": (165.0, 82.6),
    "RTX 3090": (71.0, 35.6), "V100": (125.0, 15.7), "T4": (65.0, 8.1),
}


def peak_tflops(device: torch.device, precision: str, given: Optional[float]) -> Optional[float]:
    """Returns the peak TFLOP/s to compare with: `given`, else the table's entry for this GPU (None if unknown)."""
    if given:
        return given
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, (half, tf32) in PEAK_TFLOPS.items():  # longer, more specific names come first
        if key in name:
            return half if precision in ("bf16", "fp16") else tf32
    return None


def family_config(family: str, args: argparse.Namespace, options: set[str]):
    """Returns the configuration of `family` at the benchmark's size with `options` switched on."""
    model = {"name": family, "image_size": args.size, "features_g": args.width, "features_d": args.width}
    if family == "cgan":
        model["num_classes"] = 4
    if family == "diffusion":
        model["diffusion"] = {"base_channels": args.width}
    if family == "autoencoder":
        model["autoencoder"] = {"hidden_channels": 4 * args.width, "blocks": 3}
    training = {"batch_size": args.batch, "device": args.device, "epochs": 1,
                "precision": "auto" if "precision" in options else "fp32",
                "channels_last": "channels" in options, "compile": "compile" in options}
    return build_config({"model": model, "training": training, "output": {"report": False}})


def build(family: str, args: argparse.Namespace, options: set[str], device: torch.device):
    """Returns (method, batch) ready to step: networks prepared as the trainer prepares them."""
    config = family_config(family, args, options)
    info = DataInfo(shape=(1, args.size, args.size), class_names=["a", "b", "c", "d"] if family == "cgan" else [])
    seed_everything(0)
    method = build_method(config, info, device)
    context = _attach_context(method, config, device)
    if "fused" in options:
        for optimizer in method.optimizers.values():
            for group in optimizer.param_groups:  # state is still empty: switching now is safe
                group["fused"], group["foreach"] = True, False
    x = torch.rand(args.batch, 1, args.size, args.size, device=device) * 2 - 1
    y = torch.arange(args.batch, device=device) % 4 if family == "cgan" else None
    return method, Batch(x=context.prepare_input(x), y=y), context


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_steps(method, batch: Batch, steps: int, device: torch.device) -> float:
    """Returns seconds for `steps` calls of train_step (statistics left on the device, as the trainer does)."""
    synchronise(device)
    began = time.perf_counter()
    for _ in range(steps):
        method.train_step(batch)
    synchronise(device)
    return time.perf_counter() - began


def step_flops(method, batch: Batch) -> int:
    """Returns the floating-point operations of one train_step (forward, backward, optimizer)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        method.train_step(batch)
    return counter.get_total_flops()


def measure_family(family: str, args: argparse.Namespace, device: torch.device) -> None:
    variants = {"baseline": set(), **{option: {option} for option in args.options}, "all": set(args.options)}
    built = {}
    for name, options in variants.items():
        try:
            built[name] = build(family, args, options, device)
        except Exception as exc:  # noqa: BLE001 - e.g. no compiler for torch.compile: report and go on
            print(f"  {name:<10} not measured: {type(exc).__name__}: {str(exc).splitlines()[0][:100]}")
    times: dict[str, list[float]] = {name: [] for name in built}
    names = list(built)
    for round_index in range(args.rounds + 1):
        # a different variant goes first each round: whatever the first one pays is shared out
        for name in names[round_index % len(names):] + names[:round_index % len(names)]:
            method, batch, _ = built[name]
            try:
                seconds = timed_steps(method, batch, args.steps, device)
            except Exception as exc:  # noqa: BLE001
                print(f"  {name:<10} failed: {type(exc).__name__}: {str(exc).splitlines()[0][:100]}")
                times[name] = []
                continue
            if round_index > 0:  # round 0 warms up (allocator, cuDNN autotuning, compilation)
                times[name].append(seconds)
    baseline = statistics.median(times["baseline"]) if times.get("baseline") else None
    for name, (method, batch, context) in built.items():
        if not times[name]:
            continue
        seconds = statistics.median(times[name])
        rate = args.batch * args.steps / seconds
        line = f"  {name:<10} {rate:>10.1f} samples/s"
        if baseline:
            line += f"   x{baseline / seconds:5.2f} of baseline"
        line += f"   precision {context.precision}, channels-last {context.channels_last}"
        if device.type == "cuda":
            flops = step_flops(method, batch)
            achieved = flops * args.steps / seconds / 1e12
            peak = peak_tflops(device, context.precision, args.peak_tflops)
            line += f"   {achieved:.1f} TFLOP/s" + (f" = {100 * achieved / peak:.1f}% of {peak:g}" if peak else
                                                   " (peak unknown: give --peak-tflops)")
        print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=FAMILIES, action="append", help="repeatable; default: all")
    parser.add_argument("--options", nargs="*", default=list(OPTIONS), choices=OPTIONS)
    parser.add_argument("--size", type=int, default=64, help="examples are size x size")
    parser.add_argument("--width", type=int, default=16, help="features_g/d, U-Net base channels")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5, help="train_step calls per round")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (after one warm-up round)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's peak, when not in the table")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {device} ({name}), torch {torch.__version__}; {args.size}x{args.size}, width {args.width}, "
          f"batch {args.batch}, {args.steps} steps x {args.rounds} rounds")
    for family in args.family or FAMILIES:
        print(f"{family}:", flush=True)
        measure_family(family, args, device)


if __name__ == "__main__":
    main()
