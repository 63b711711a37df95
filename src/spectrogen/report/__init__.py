"""See and hear a run without writing code: report.html (`write_report`) and TensorBoard event files.

    from spectrogen.report import write_report
    write_report("runs/specgan")   # -> runs/specgan/report.html, runs/specgan/report_audio/*.wav

Training writes it at the end of every run (`output.report`); `spectrogen report RUN_DIR` on any run.
"""

from spectrogen.report.build import write_report

__all__ = ["write_report"]
