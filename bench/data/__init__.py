"""From corpus files to tensors: adapters -> manifest -> prepare -> feature store -> dataset.

Each stage is one module with one job, and nothing downstream reaches back upstream:
``corpora/`` turns a corpus folder into a :class:`~bench.data.manifest.Manifest`;
``prepare`` turns a manifest into a :class:`~bench.data.store.FeatureStore` (decoding, faces,
optical flow, audio features); ``dataset`` serves the store's arrays as model batches.
"""
