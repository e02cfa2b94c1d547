"""``python -m bench.splits``: rewrite the generated scheme files that ship with the package."""

from bench.splits.kfold import write_shipped_files

for path in write_shipped_files():
    print(f"wrote {path}")
