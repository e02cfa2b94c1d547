"""A console for driver processes that tests watch: prints every line, and a marker line
(``<MARKER> <fold>``) when a fold finishes, so a test knows when to send a signal."""

from __future__ import annotations


class MarkerConsole:
    def __init__(self, marker: str):
        self.marker = marker

    def print(self, text="", *args, **kwargs):
        text = str(text)
        print(text, flush=True)
        if text.startswith("fold ") and ": epoch" in text:
            print(f"{self.marker} {text.split()[1]}", flush=True)
