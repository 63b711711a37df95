"""See and hear a run without writing code: report.html (`write_report(run_dir)`, written at the end of every run
with `output.report`, and by `spectrogen report RUN_DIR`) and TensorBoard event files."""

from spectrogen.report.build import write_report

__all__ = ["write_report"]
