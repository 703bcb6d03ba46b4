"""How training reports to a person: a bar per stage on a terminal, a line per epoch in a log."""
from __future__ import annotations

import sys

import click

from .training.reporter import Reporter


def describe_epoch(record: dict) -> str:
    parts = [f"train loss {record['train']:.4f}"]
    if record.get("valid") is not None:
        parts.append(f"valid loss {record['valid']:.4f}")
    if record.get("valid_error") is not None:
        parts.append(f"valid error {100 * record['valid_error']:.2f}%")
    if record.get("lr") is not None:
        parts.append(f"lr {record['lr']:.3g}")
    if record.get("averaged"):
        parts.append(f"valid figures of the mean of the last {record['averaged']} epochs")
    return ", ".join(parts)


class CliReporter(Reporter):
    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.bar = None
        self.label = ""

    def note(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True)

    def stage_start(self, label: str, epochs: int) -> None:
        self.label = label
        if self.quiet or not self.tty:
            return
        self.bar = click.progressbar(length=epochs, label=label, file=sys.stderr, show_pos=True,
                                     item_show_func=lambda r: r and describe_epoch(r))
        self.bar.__enter__()

    def epoch_end(self, record: dict) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.update(1, record)
        else:
            click.echo(f"{self.label} epoch {record['epoch']}: {describe_epoch(record)} "
                       f"({record['seconds']:.2f}s)", err=True)

    def stage_end(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
