"""What pretraining and fine-tuning share, one home for each decision:

- settings.py     the settings tables (names, defaults, accepted values, per-layer, resumable),
                  their validation, what --resume may change;
- configs.py      PretrainConfig and FinetuneConfig, made from the tables;
- state.py        the state an epoch changes, the epoch loop that rewinds it on Ctrl-C or
                  divergence, the divergence check, the held-out rows;
- checkpoints.py  checkpoint files and the Saver a run holds;
- reporter.py     what training tells its caller.

Nothing heavy is imported here: the CLI reads settings.py to build its options.
"""
