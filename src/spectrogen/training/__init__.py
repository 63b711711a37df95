"""The one training loop of every model family (`trainer.Trainer`) and its files; imports nothing itself."""
