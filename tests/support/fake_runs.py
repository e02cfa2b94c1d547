"""Reports without training: a fake ``bench.experiment.run`` behind ``run_many``.

``bench compare`` and ``bench ablate`` hand all their runs to :func:`bench.experiment.run_many`
as one grid; report tests that replace each run by made-up results patch ``run_many`` with
:func:`run_each` over their fake ``run``.
"""

from __future__ import annotations


def run_each(run):
    """A ``run_many`` that calls ``run(model, dataset, **kwargs)`` on each spec in turn."""

    def run_many(specs, *, executor=None, jobs_in_parallel=1, progress=True, console=None):
        return {spec.name: run(spec.model, spec.dataset, **{"progress": progress, **spec.kwargs}, console=console,
                               executor=executor)
                for spec in specs}

    return run_many
