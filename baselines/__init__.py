"""Baseline models, one module each; importing this package registers them."""
from baselines import saf  # noqa: F401  (registers "saf")
from baselines import auxformer  # noqa: F401  (registers "auxformer")
from baselines import rja  # noqa: F401  (registers "rja")
