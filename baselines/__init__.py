"""Baseline models, one module each; importing this package registers them."""
