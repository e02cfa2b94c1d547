"""Consoles for tests: :class:`LineConsole` keeps what it is told (for messages a test looks
for); :class:`MarkerConsole`, for driver processes that tests watch, prints every line and a
marker line (``<MARKER> <fold>``) when a fold finishes, so a test knows when to send a signal."""

from __future__ import annotations


class MarkerConsole:
    def __init__(self, marker: str):
        self.marker = marker

    def print(self, text="", *args, **kwargs):
        text = str(text)
        print(text, flush=True)
        if text.startswith("fold ") and ": epoch" in text:
            print(f"{self.marker} {text.split()[1]}", flush=True)


class LineConsole:
    """Keeps every printed line in ``lines``."""

    def __init__(self):
        self.lines: list[str] = []

    def print(self, text="", *args, **kwargs):
        self.lines.append(str(text))
