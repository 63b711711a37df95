"""Run audio (or a prepared data set) through a trained autoencoder and compare.

Examples:
  spectrogen reconstruct runs/ae/checkpoints/best_model.tar song.wav --out recon/
  spectrogen reconstruct best_model.tar music_folder/ --out recon/ --n 5 --griffin-lim-iters 64
  spectrogen reconstruct best_model.tar DATA --out recon/ --n 8        # a data set from `spectrogen prepare`

Audio is resampled to the model's rate, cut into consecutive windows of its length (256 frames,
5.12 s for the autoencoder preset; the last one zero-padded), reconstructed window by window and
joined again. For each input NAME, --out receives NAME_original.wav (the input, mono at the model's
rate), NAME_griffin_lim.wav (the original spectrogram through the same Griffin-Lim: the best the
autoencoder could sound), NAME_reconstructed.wav and NAME_spectrogram_comparison.png. A data set
gives example_K_griffin_lim.wav / example_K_reconstructed.wav and one spectrogram_comparison.png.
metrics.csv and metrics.txt hold MSE, MAE, cosine similarity, spectral convergence, log-spectral
distance, SI-SDR, and PESQ/STOI when the optional packages are installed (pip install spectrogen[speech]).
Files already in --out are never replaced unless --overwrite. Recordings that cannot be decoded or
hold NaN or infinite samples (which `spectrogen prepare` refuses too) are skipped and named; when
none is left the exit code is 2.
"""

from __future__ import annotations

import argparse
import sys

from spectrogen.report.reconstruction import reconstruct


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="a .tar file from an autoencoder run's checkpoints/ folder")
    parser.add_argument("source", metavar="AUDIO_OR_DATA",
                        help="an audio file, a folder of audio files, or a data set folder made by `spectrogen prepare`")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the .wav files, figures and metrics")
    parser.add_argument("--n", type=int, default=None, metavar="N",
                        help="at most N audio files; for a data set, N examples spread over it (default 8)")
    parser.add_argument("--griffin-lim-iters", type=int, default=None, metavar="K",
                        help="Griffin-Lim iterations (default: output.griffin_lim_iterations of the run, 32)")
    parser.add_argument("--batch-size", type=int, default=16, help="windows reconstructed at once (default 16)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    parser.add_argument("--overwrite", action="store_true", help="write into --out even when it already holds files")
    parser.add_argument("--quiet", action="store_true", help="print only the metrics table")


def run(args: argparse.Namespace) -> int:
    log = (lambda _: None) if args.quiet else (lambda line: print(line, flush=True))
    report = reconstruct(args.checkpoint, args.source, args.out, n=args.n, griffin_lim_iters=args.griffin_lim_iters,
                         overwrite=args.overwrite, device=args.device, batch_size=args.batch_size, log=log)
    print(report.table)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    for name, reason in report.skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    print(f"wrote {len(report.rows)} reconstruction(s) to {report.out}")
    return 0
