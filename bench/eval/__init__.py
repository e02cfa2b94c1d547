"""Evaluation: the one table of metrics and how each is computed (``metrics``), robustness
conditions (``robustness``), fold aggregates (``stats``) and paired tests (``significance``)."""
