"""What training tells its caller as it goes."""
from __future__ import annotations


class Reporter:
    """What training tells its caller, stage by stage (a layer, or fine-tuning). The default
    tells nothing; the CLI's (progress.py) draws progress bars or log lines."""

    def note(self, message: str) -> None:
        """A remark about the data or the settings chosen for it."""

    def stage_start(self, label: str, epochs: int) -> None:
        """A layer, or fine-tuning, begins: at most `epochs` epochs."""

    def epoch_end(self, record: dict) -> None:
        """An epoch ended: its history record (epoch, train, valid, lr, seconds...)."""

    def stage_end(self) -> None:
        """The stage ended, however it ended."""
