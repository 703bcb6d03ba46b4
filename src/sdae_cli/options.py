"""The names a user chooses among, in one place: the CLI's choices, the settings table
(training/settings.py), the layers and the core's enums (layer.py) all read them. No imports:
`sdae --help` loads this."""

ACTIVATIONS = ("sigmoid", "tanh", "relu")  # encoders; decoders add "linear"
DECODERS = ("sigmoid", "linear")
LOSSES = ("cross-entropy", "mse")
CORRUPTIONS = ("masking", "gaussian", "salt-pepper")  # what --noise-type offers
NOISE_TYPES = (*CORRUPTIONS, "none")  # what a layer or a fine-tuning run records
OPTIMIZERS = ("sgd", "momentum", "adam")
SCHEDULES = ("constant", "exponential", "cosine", "linear")
SCALINGS = ("auto", "minmax", "standard", "none")
MONITORS = ("error", "loss")
TARGETS = ("classify", "reconstruct")
AUTO = "auto"  # loss and decoder: chosen from the data each layer sees
