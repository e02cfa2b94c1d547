"""Baseline models, one module each; importing this package registers them."""
from baselines import saf  # noqa: F401  (registers "saf")
