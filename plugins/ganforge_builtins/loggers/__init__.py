"""Loggers: where a run's scalars, sample pictures and status go besides its run directory:
``jsonl`` (metrics.jsonl, always on), ``csv``, ``tensorboard`` and, with their extras, ``wandb``
(Weights & Biases) and ``mlflow``.

One plugin: its modules register in the order listed here, each imported only when a hook needs
it (``ganforge --help`` imports none of them)."""

from ganforge.hookspecs import family

plugin = family(__name__, "jsonl", "csv_file", "tensorboard", "wandb_logger", "mlflow_logger")
