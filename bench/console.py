"""The console library code prints to when its caller passes none.

Library functions (``run``, ``compare``, ``ablate``, corpus generation) take a ``console``
(anything with rich's ``print(*objects, **kwargs)``): the CLI passes its own, a notebook may
pass a rich ``Console`` or a recorder. Library code never imports the CLI; without a console
it uses rich's process-wide one.
"""

from __future__ import annotations


def default_console():
    from rich import get_console

    return get_console()
