"""Tracking in MLflow: runs of experiments and their folds (``runs``: one client maker, one
get-or-create of experiments, owner tags and reaping of dead runs) and of sweeps (``sweep``)."""
