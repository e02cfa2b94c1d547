"""Study files: the one loader of every study file (``loader``) and the shipped studies
(``*.toml`` in this folder, packaged with the suite)."""
