"""How pretraining reports to a person: a bar per layer on a terminal, a line per epoch in a log."""
from __future__ import annotations

import sys

import click

from .pretraining import Reporter


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4f}"


class CliReporter(Reporter):
    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.bar = None
        self.label = ""

    def note(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True)

    def layer_start(self, k, n_layers, layer, epochs) -> None:
        self.label = f"layer {k + 1}/{n_layers} ({layer.n_in}->{layer.n_hidden}, {layer.loss})"
        if self.quiet:
            return
        if self.tty:
            self.bar = click.progressbar(
                length=epochs, label=self.label, file=sys.stderr, show_pos=True,
                item_show_func=lambda r: r and f"train {_fmt(r['train'])} valid {_fmt(r['valid'])}",
            )
            self.bar.__enter__()

    def epoch_end(self, k, record) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.update(1, record)
        else:
            click.echo(f"{self.label} epoch {record['epoch']}: train loss {_fmt(record['train'])}, "
                       f"valid loss {_fmt(record['valid'])} ({record['seconds']:.2f}s)", err=True)

    def layer_end(self, k) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
