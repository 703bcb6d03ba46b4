"""The defaults in which pretraining and fine-tuning differ, in one place: the configs
(pretraining.py, finetuning.py) and the CLI's options read them. No heavy imports: `sdae --help`
loads this.

Fine-tuning defaults to momentum at 0.1 with a cosine decay to 1% over 50 epochs, on every row:
on the shipped digits (validation split inside the training part) that gives 98.1% where plain
SGD with 10% held out for early stopping gave 92.9%; a held-out split of a small data set is both
rows lost to training and an early-stopping signal too coarse to trust (126 rows: 0.8% a row).
"""

PRETRAIN = {"epochs": 15, "optimizer": "sgd", "lr_schedule": "constant", "valid_split": 0.1,
            "lr": {"sgd": 0.1, "momentum": 0.01, "adam": 0.001}}
FINETUNE = {"epochs": 50, "optimizer": "momentum", "lr_schedule": "cosine", "valid_split": 0.0,
            "lr": {"sgd": 0.1, "momentum": 0.1, "adam": 0.001}}


def lr_help(table: dict) -> str:
    return "Learning rate (default: " + ", ".join(f"{name} {lr:g}" for name, lr in table["lr"].items()) + ")."
