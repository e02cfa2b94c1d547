"""The results ledger: every finished job as one small, human-readable record in the repository.

    job finished  ->  Record (numbers + provenance)  ->  results/<dataset>/<model>/<key>.<platform>.json

A study longer than one machine's sitting finishes across sittings and machines: each writes
records, records merge by copying files, and ``bench compare`` / ``bench ablate`` rebuild a
report from the records, training only the jobs that have none (``bench ledger status`` lists
what is done, missing and stale). See :mod:`bench.ledger.ledger` for the layout and the choice
between platforms, :mod:`bench.ledger.fingerprint` for staleness.
"""

from bench.ledger.fingerprint import code_fingerprint, fingerprint_of
from bench.ledger.ledger import Ledger, Lookup, default_ledger
from bench.ledger.machine import platform_info
from bench.ledger.record import SCHEMA, Record, RecordError

__all__ = ["SCHEMA", "Ledger", "Lookup", "Record", "RecordError", "code_fingerprint", "default_ledger",
           "fingerprint_of", "platform_info"]
