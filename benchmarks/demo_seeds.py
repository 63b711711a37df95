"""How often `spectrogen demo` passes its own verdict: the demo at N seeds, one after another.

    python benchmarks/demo_seeds.py [--seeds 10] [--model specgan] [--work /tmp/demo_seeds] [--busy]

Each seed runs `spectrogen demo --seed S` (the same built-in engines; training and sampling seeded by S)
and reads its demo.json: the figures, the targets each missed, whether the verdict passed, and the
minutes it took. `--busy` keeps one of the cores busy throughout (a laptop with other work open).
Prints a table and the pass count; nothing else should run meanwhile.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
from pathlib import Path


def _spin(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--model", default="specgan", choices=["specgan", "cgan"])
    parser.add_argument("--work", type=Path, default=Path("/tmp/demo_seeds"))
    parser.add_argument("--busy", action="store_true")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    stop = multiprocessing.Event()
    spinner = multiprocessing.Process(target=_spin, args=(stop,)) if args.busy else None
    if spinner:
        spinner.start()
    rows = []
    try:
        for seed in range(args.first, args.first + args.seeds):
            out = args.work / f"{args.model}_seed{seed}"
            if not (out / "demo.json").is_file():
                command = [sys.executable, "-m", "spectrogen", "demo", "--model", args.model, "--seed", str(seed),
                           "--out", str(out), "--overwrite", "--quiet"]
                with open(args.work / f"{out.name}.log", "w") as log:
                    subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=True)
            record = json.loads((out / "demo.json").read_text())
            evaluation = record["evaluation"]
            rows.append((seed, record["seconds"]["total"] / 60, evaluation.get("passed"), evaluation.get("figures", {}),
                         evaluation.get("missed", [])))
            print(f"seed {seed}: {'pass' if rows[-1][2] else 'FAIL'} in {rows[-1][1]:.1f} min; missed {rows[-1][4]}",
                  flush=True)
    finally:
        if spinner:
            stop.set()
            spinner.join()
    keys = sorted({key for row in rows for key in row[3]})
    print("| seed | minutes | passed | " + " | ".join(keys) + " | missed |")
    print("|---|---|---|" + "---|" * len(keys) + "---|")
    for seed, minutes, passed, figures, missed in rows:
        cells = [f"{figures[k]:.2f}" if isinstance(figures.get(k), (int, float)) else "-" for k in keys]
        print(f"| {seed} | {minutes:.1f} | {'yes' if passed else 'no'} | " + " | ".join(cells) + f" | {', '.join(missed)} |")
    print(f"passed {sum(bool(row[2]) for row in rows)} of {len(rows)}"
          f"{' with one core busy' if args.busy else ''}")


if __name__ == "__main__":
    main()
