"""A reporter that presses Ctrl-C as an epoch ends, for the tests of interrupted and resumed
runs: the checkpoint then holds the epochs before it."""
from sdae_cli.training.reporter import Reporter


class CtrlCInEpoch(Reporter):
    def __init__(self, epoch: int):
        self.epoch = epoch

    def epoch_end(self, record: dict) -> None:
        if record["epoch"] == self.epoch:
            raise KeyboardInterrupt
