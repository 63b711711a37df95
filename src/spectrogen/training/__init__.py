"""The one training loop shared by every model family, and everything around it.

`api.train` validates and starts a run; `trainer.Trainer` runs its epochs; `method` is the contract
with the model families; `data_loading`, `checkpoint`, `run_directory`, `statistics`, `csv_log`,
`monitor`, `best`, `resources`, `device`, `plots`, `progress` and `stopping` each do one job.
The package itself imports nothing, so model families can import `models.method` cheaply.
"""
