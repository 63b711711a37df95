"""The one training loop shared by every model family (`trainer.Trainer`) and the files it writes.

Each module does one job; the package itself imports nothing, so importing one stays cheap.
"""
