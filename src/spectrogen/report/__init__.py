"""See and hear a run without writing code: report.html (`write_report`) and TensorBoard event files.

    from spectrogen.report import write_report
    write_report("runs/specgan")   # -> runs/specgan/report.html, runs/specgan/report_audio/*.wav

The trainer calls `write_report` at the end of every run when `output.report` is true;
`spectrogen report RUN_DIR` calls it on any run directory. The TensorBoard callback is
`spectrogen.report.tensorboard.tensorboard_callback(config)`.
"""

from spectrogen.report.build import write_report

__all__ = ["write_report"]
