"""Reports read results and never train: tables (``tables``), figures (``plots``), the report
folder and its index (``bundle``, ``provenance``), and the comparison and ablation studies
that build them (``compare``, ``ablation``)."""
