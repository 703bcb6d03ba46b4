"""The configs of a pretraining and a fine-tuning run, made from the settings tables: one field
per setting, in the table's order, with its default; made, they are validated against the table
(settings.validate). Not loaded by `sdae --help`, which needs the tables only."""
from __future__ import annotations

import dataclasses

from .settings import FINETUNE, PRETRAIN, REQUIRED, Setting, validate


def _config_class(name: str, table: dict[str, Setting], job: str, doc: str):
    fields = [(key, object, dataclasses.field() if s.default is REQUIRED else dataclasses.field(default=s.default))
              for key, s in table.items()]
    cls = dataclasses.make_dataclass(name, fields, namespace={
        "__post_init__": lambda self: validate(self, table, job),
        "to_json": lambda self: dataclasses.asdict(self),
        "__doc__": doc,
        "table": table,
    })
    cls.__module__ = __name__
    return cls


PretrainConfig = _config_class(
    "PretrainConfig", PRETRAIN, "pretrain",
    "Settings of a pretraining run (the PRETRAIN table). Per-layer settings take one value or one per "
    "layer; after validation, config.per_layer holds one value per layer of each.")
FinetuneConfig = _config_class("FinetuneConfig", FINETUNE, "finetune",
                               "Settings of a fine-tuning run (the FINETUNE table).")
