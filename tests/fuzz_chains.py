"""What the command-line fuzzer (test_fuzz_cli.py) says: chains of commands with options drawn
mostly from valid values and sometimes from invalid ones, over the files of its library, and
model files altered in one place. Each chain comes with what it may write (Step)."""
import functools
import io
import json
from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from sdae_cli.cli_support import default_model_path, tuned_model_path
from sdae_cli.training import checkpoints


@functools.cache
def model_files() -> list[bytes]:
    """Whole model files, a pretrained stack and a classifier, for the fuzzer to damage."""
    from sdae_cli import PretrainConfig, pretrain
    from sdae_cli.finetuning import finetune_supervised
    from sdae_cli.training.configs import FinetuneConfig

    X = np.random.default_rng(0).random((30, 6), dtype=np.float32)
    model = pretrain(X, PretrainConfig(layers=[4, 3], epochs=1))
    tuned = finetune_supervised(model, X, np.arange(30) % 3, FinetuneConfig(epochs=1))
    files = []
    for each in (model, tuned):
        buffer = io.BytesIO()
        np.savez(buffer, **each.arrays())
        files.append(buffer.getvalue())
    return files


def meta_paths(value, path=()):
    """Every place in a model's JSON metadata: (key or index, ...) tuples."""
    yield path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        yield from meta_paths(inner, (*path, key))


json_values = st.one_of(st.integers(-5, 10**12), st.floats(), st.text(max_size=8), st.none(), st.booleans(),
                        st.lists(st.integers(-2, 5), max_size=3), st.sampled_from(["sigmoid", "linear", "minmax",
                                                                                    "standard", "mse"]))


@st.composite
def altered_model(draw) -> bytes:
    """A model file that is a well-formed archive with one thing changed: a value anywhere in its
    metadata, or one of its arrays dropped, reshaped or given another dtype."""
    with np.load(io.BytesIO(draw(st.sampled_from(model_files()))), allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(str(arrays["meta"]))
    if draw(st.booleans()):
        path = draw(st.sampled_from(sorted((p for p in meta_paths(meta) if p), key=repr)))
        target = meta
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = draw(json_values)
        arrays["meta"] = np.array(json.dumps(meta))
    else:
        name = draw(st.sampled_from(sorted(a for a in arrays if a != "meta")))
        how = draw(st.sampled_from(["drop", "reshape", "float64", "int"]))
        if how == "drop":
            del arrays[name]
        elif how == "reshape":
            arrays[name] = arrays[name].reshape(-1)[: max(0, arrays[name].size - 1)]
        else:
            arrays[name] = arrays[name].astype(np.float64 if how == "float64" else np.int32)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


# ---------------------------------------------------------------- what a chain can say

def chance(draw, percent: int) -> bool:
    """True `percent` per cent of the time. (Hypothesis favours 0 and other small numbers, so the
    rare outcome sits at the top of the range.)"""
    return draw(st.integers(0, 99)) >= 100 - percent


def pick(draw, valid: list[str], invalid: list[str], wrong: int = 8) -> str:
    """Mostly a valid value, `wrong` per cent of the time an invalid one."""
    if invalid and chance(draw, wrong):
        return draw(st.sampled_from(invalid))
    return draw(st.sampled_from(valid))


DATA = (["s.npy", "big.csv", "ints.npy", "w.tsv", "one.npz", "labeled.csv", "clean.npy", "-", "link.npy", "BAD"],
        ["multi.npz", "wide.npy", "nope.npy", "adir", "notdir/x.npy", "", "m.npz", "y.npy", "y.txt",
         "one_row.npy", "const.npy", "col.csv", "huge.npy", "dangling.npy"])
MODELS = (["m.npz", "m_big.npz", "t.npz", "r.npz", "BAD"], ["ckpt.npz", "s.npy", "nope.npz", "adir", "-", ""])
LABELS = (["y.npy", "y.txt", "y.npy", "y.txt", "BAD"], ["y_short.npy", "y_one.npy", "ids.npy", "s.npy", "nope.txt",
                                                   "-", "adir", "y_nan.npy", "labeled.csv"])
OUTPUTS = (["out.npy", "out.csv", "out.tsv", "out.npz", "out.txt", "-"],
           ["out.bin", "out", "adir", "nofolder/out.npy", "notdir/out.npy", "s.npy", "y.npy", "", "m.npz",
            "t.npz", "link.npy", "dangling.npy"])
MODEL_OUTPUTS = (["new.npz", "m.npz"], ["nofolder/m.npz", "notdir/m.npz", "adir", "-", "s.npy", "new", ""])
CHECKPOINTS = (["c.ckpt.npz", "ckpt.npz"], ["nofolder/c.npz", "adir", "-", "", "s.npy"])
RESUMES = (["ckpt.npz", "fckpt.npz"], ["m.npz", "nope.npz", "BAD", "t.npz", "adir"])
EPOCHS = (["1", "2", "3"], ["0", "-1", "x", "", "1000000", "99999999999999999999"])
THREADS = (["0", "1", "2"], ["-1", "5000", "x", ""])
TRAINING = {
    "--batch-size": (["1", "2", "7", "32", "1000"], ["0", "-3", "x", "99999999999999999999"]),
    "--lr": (["0.1", "0.01", "1e-3"], ["0", "-1", "nan", "inf", "1e39", "1e-50", "abc", "100"]),
    "--optimizer": (["sgd", "momentum", "adam"], ["bogus", ""]),
    "--momentum": (["0.5", "0.9"], ["1", "-0.1", "x"]),
    "--valid-split": (["0", "0.1", "0.5"], ["0.99", "1", "-0.1", "nan", "x"]),
    "--lr-schedule": (["constant", "exponential", "cosine", "linear"], ["step", ""]),
    "--lr-decay": (["0.5", "1"], ["0", "1.5", "nan", "x"]),
    "--lr-final": (["0.01", "1"], ["0", "-1", "2", "inf", "x"]),
    "--seed": (["0", "1", "18446744073709551615"], ["-1", "18446744073709551616", "x"]),
    "--threads": THREADS,
    "--key": (["data", "a"], ["b", "nokey", ""]),
    "--checkpoint": CHECKPOINTS,
    "--checkpoint-every": (["0", "1", "2"], ["-1", "x"]),
    "-q": None,
}
COMMANDS = {
    "pretrain": {
        "-o": MODEL_OUTPUTS,
        "--layers": (["3", "4,2", "2,2,2", "100000"], ["0", "-1", "", "3,,2", "1e3", "abc", "20000000", "+3",
                                                       "9999999", "1000000,1000000", "3000000", "5,3000000"]),
        "--noise": (["0", "0.3", "0.1,0.2"], ["1", "-0.1", "nan", "inf", "abc", "", "0.1,0.2,0.3,0.4"]),
        "--noise-type": (["masking", "gaussian", "salt-pepper", "masking,gaussian"], ["bogus", "", "masking,"]),
        "--epochs": (EPOCHS[0] + ["0", "2,1", "1,0"], EPOCHS[1][1:] + ["1,,1", "1,-1"]),
        "--loss": (["auto", "cross-entropy", "mse"], ["bogus"]),
        "--decoder": (["auto", "sigmoid", "linear"], ["x"]),
        "--activation": (["sigmoid", "tanh", "relu", "relu,tanh"], ["x", ""]),
        "--untied": None,
        "--scale": (["auto", "minmax", "standard", "none"], ["x"]),
        "--resume": RESUMES,
        **TRAINING,
    },
    "finetune": {
        "-m": MODELS,
        "--labels": LABELS,
        "--label-column": (["label", "6"], ["0", "-1", "99", "x", ""]),
        "--target": (["classify", "reconstruct"], ["x"]),
        "--clean": (["clean.npy", "s.npy"], ["wide.npy", "nope.npy", "BAD", "-"]),
        "-o": MODEL_OUTPUTS,
        "--epochs": EPOCHS,
        "--valid": (["s.npy", "clean.npy"], ["wide.npy", "BAD", "nope.npy"]),
        "--valid-labels": LABELS,
        "--patience": (["1", "3"], ["0", "-1", "x"]),
        "--noise": (["0", "0.2"], ["1", "-1", "nan", "x"]),
        "--noise-type": (["masking", "gaussian", "salt-pepper"], ["x"]),
        "--monitor": (["error", "loss"], ["x", ""]),
        "--dropout": (["0", "0.3"], ["1", "-0.1", "nan", "x"]),
        "--average-from": (["0", "1", "2"], ["-1", "x", "1.5"]),
        "--resume": RESUMES,
        **TRAINING,
    },
}
INFERENCE = {"-m": MODELS, "-o": OUTPUTS, "--format": (["npy", "csv"], ["x", ""]), "--threads": THREADS,
             "--key": (["data"], ["a", "nokey"]), "--header": None,
             "--precision": (["1", "6", "9"], ["0", "10", "-1", "x", ""]),
             "--keep-columns": (["label", "0", "0,label"], ["", ",", "99", "x", "0,,1"])}
COMMANDS["encode"] = {**INFERENCE, "--layer": (["1", "2"], ["3", "0", "-1", "x", "99999999999999999999"])}
COMMANDS["denoise"] = dict(INFERENCE)
COMMANDS["score"] = dict(INFERENCE)
COMMANDS["predict"] = {**INFERENCE, "--proba": None}
COMMANDS["info"] = {}
PICTURES = (["f.png", "c.png", "r.png"], ["nofolder/p.png", "notdir/p.png", "adir", "-", "", "s.npy", "m.npz"])
SHOWN = ("--filters", "--curves", "--reconstructions")  # show's outputs
COMMANDS["show"] = {"-m": MODELS, **{flag: PICTURES for flag in SHOWN},
                    "--layer": (["1", "2"], ["3", "0", "x"]),
                    "--image-shape": (["2x3", "3x2", "6x1"], ["2x2", "0x6", "x", "", "3x2x1"]),
                    "--samples": (["1", "3"], ["0", "x", "5000"]), "--threads": THREADS,
                    "--key": (["data"], ["a", "nokey"])}
WEIGHTED = ["pretrain"] * 3 + ["finetune"] * 3 + ["encode", "denoise", "score", "predict", "info", "show"]
# Options nearly every run of a command gives (so that most chains get past parsing).
USUAL = {"pretrain": ["--layers", "--epochs", "-q"], "finetune": ["--labels", "--epochs", "-q"],
         "show": ["--image-shape"]}
NOISE = ["--bogus", "--", "-x", "--help", "--version"]  # tokens a chain may hold by mistake


class Step(NamedTuple):
    """What one command of a chain may write, and what it reads that it must not overwrite."""

    command: str
    model: str | None  # the model it writes (pretrain, finetune)
    checkpoint: str | None  # where that model's checkpoint goes
    outputs: list  # the data it writes (encode, denoise, predict, score): a file or "-"
    reads: tuple = ()  # an inference command's model and data


@st.composite
def chains(draw):
    """(argv, stdin bytes, [(command, model output or None, checkpoint or None, data outputs)],
    the name of the malformed file)."""
    argv, plan, model_name = [], [], None
    bad_name = "bad" + draw(st.sampled_from([".npy", ".npz", ".csv", ".txt", ".dat"]))
    if chance(draw, 3):
        argv.append(draw(st.sampled_from(["--help", "--version", "-h", "--bogus"])))
    for _ in range(draw(st.sampled_from([1, 1, 2, 2, 3]))):
        name = draw(st.sampled_from(WEIGHTED))
        options = COMMANDS[name]
        names = [o for o in USUAL.get(name, []) if not chance(draw, 15)]
        if name in ("finetune", "encode", "denoise", "score", "predict", "show") and (
                model_name is None or chance(draw, 30)):
            names.append("-m")
        if name == "show" and not chance(draw, 10):  # mostly at least one picture
            names.append(draw(st.sampled_from(SHOWN)))
        if options:
            names += draw(st.lists(st.sampled_from(sorted(options)), max_size=4))  # repeats: repeated options
        groups = []
        for option in names:
            values = options[option]
            if values is None:
                groups.append([option])
                continue
            value = pick(draw, *values).replace("BAD", bad_name)
            if option == "--labels" and chance(draw, 10):
                option, value = "--target", "reconstruct"
            groups.append([option, value])
        wants_data = "--reconstructions" in names if name == "show" else True
        if name == "info" or (wants_data and not chance(draw, 5)) or (not wants_data and chance(draw, 5)):
            groups.append([pick(draw, *(MODELS if name == "info" else DATA)).replace("BAD", bad_name)])
        if name in ("encode", "denoise", "score", "predict") and chance(draw, 5):
            reads = [g[1] for g in groups if g[0] == "-m"] + [g[0] for g in groups if len(g) == 1]
            groups.append(["-o", draw(st.sampled_from(reads or ["m.npz"]))])  # written over what it reads
        if chance(draw, 3):
            groups.append([draw(st.sampled_from(NOISE))])
        groups = draw(st.permutations(groups))
        if groups and chance(draw, 3) and len(groups[-1]) == 2:
            groups[-1] = groups[-1][:1]  # an option missing its value
        argv += [name] + [token for group in groups for token in group]
        given = {group[0]: group[1] for group in groups if len(group) == 2}  # of a repeated option, the last
        data = next((g[0] for g in groups if len(g) == 1 and not g[0].startswith("-") or g == ["-"]), None)
        outputs, model_output, ckpt = [], None, None
        if name == "pretrain":
            model_output = given.get("-o") or (default_model_path(data) if data is not None else None)
        elif name == "finetune":  # named after the model it tunes (with --resume, the chain's model)
            base = model_name or given.get("-m") if "--resume" in given else given.get("-m") or model_name
            model_output = given.get("-o") or tuned_model_path(base)
        elif name == "show":
            outputs += [given[flag] for flag in SHOWN if given.get(flag)]
        elif name != "info":
            outputs.append(given.get("-o", "-"))
        if model_output is not None:
            ckpt = given.get("--checkpoint") or checkpoints.default_path(model_output)
        model_name = model_output or (given.get("-m") if name != "info" else model_name) or model_name
        reads = tuple(p for p in (given.get("-m"), data) if p not in (None, "", "-")) if outputs else ()
        plan.append(Step(name, model_output, ckpt, outputs, reads))
    stdin = draw(st.sampled_from([b"", b"S.NPY", b"BIG.CSV", b"BAD"]))
    return argv, stdin, plan, bad_name
