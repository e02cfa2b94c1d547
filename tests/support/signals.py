"""Children that a test interrupts with SIGINT must see Ctrl-C as a user's terminal would.

A suite launched from a shell's background job (``pytest ... &``) inherits SIGINT *ignored*;
Python then installs no KeyboardInterrupt handler in the children it starts, so a Ctrl-C test
would pass or fail on how the suite was launched. ``preexec_fn=default_sigint`` restores the
default in the child before it runs.
"""

from __future__ import annotations

import signal


def default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
