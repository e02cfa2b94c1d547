"""Sweeps: the driver and its local workers (``driver``), the training objective on inner
folds of the non-test speakers (``objective``) and the Optuna storages (``storage``)."""
