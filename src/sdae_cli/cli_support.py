"""What the `sdae` commands share: chaining, error mapping, option parsing and common options.

No heavy imports here either: `sdae --help` loads only this and click.
"""
from __future__ import annotations

import errno
import os
import re
import sys

import click

from .training.settings import MAX_THREADS, lr_help


class ChainedCommand(click.Command):
    """Lets options follow arguments inside a chain (`pretrain x.npy --layers 500`), which Click's
    chain mode otherwise forbids: this command's arguments end at the next command's name."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        group = ctx.parent.command if ctx.parent is not None else None
        names = set(group.commands) if isinstance(group, click.Group) else set()
        takes_value = {
            opt for p in self.get_params(ctx) if isinstance(p, click.Option) and not p.is_flag
            for opt in p.opts
        }
        end = 0
        while end < len(args) and args[end] != "--" and args[end] not in names:
            end += 2 if args[end] in takes_value else 1
        end = min(end, len(args))
        ctx.allow_interspersed_args = True
        super().parse_args(ctx, args[:end])
        ctx.args = [*ctx.args, *args[end:]]
        check = getattr(self.callback, "check_options", None)
        if check is not None and not ctx.resilient_parsing:
            check(ctx.params)  # before any command of the chain runs, so a bad chain writes nothing
        return ctx.args

    def invoke(self, ctx: click.Context):
        chain = ctx.find_object(Chain)
        if chain is not None:
            chain.running = self.name  # what messages name, should this command fail
        return super().invoke(ctx)


class SdaeGroup(click.Group):
    """Turns every error into one line on stderr: our own with exit code 1 (usage errors exit 2,
    interruptions 130), and those that come from below us: memory that ran out in spite of the
    estimates, an error from the C++ core, Ctrl-C outside training and, last, anything else,
    as an internal error (SDAE_TRACEBACK=1 shows its traceback instead)."""

    command_class = ChainedCommand

    def invoke(self, ctx: click.Context):
        from .errors import ConfigError, SdaeError

        try:
            return super().invoke(ctx)
        except ConfigError as e:
            raise click.BadParameter(e.message, param_hint=f"'--{e.option}'") from None
        except SdaeError as e:
            raise one_line(str(e), getattr(e, "exit_code", 1)) from None  # 130 after Ctrl-C / SIGTERM
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except OSError as e:
            if e.errno == errno.EPIPE:
                raise  # the reader of stdout went away: Click exits quietly
            where = f"{e.filename}: " if e.filename else ""
            raise one_line(f"{running(ctx)}: {where}{e.strerror or e}", 1) from None
        except MemoryError as e:
            import traceback

            from .resources import out_of_memory

            traceback.clear_frames(e.__traceback__)  # what the failed job held is free again: say so
            job = running(ctx)
            raise one_line(str(out_of_memory(job, failed_allocation(e), OUT_OF_MEMORY_HINTS.get(
                job, "lower --threads, or use a smaller model"))), 1) from None
        except KeyboardInterrupt:
            raise one_line(f"{running(ctx)}: interrupted", 130) from None
        except Exception as e:
            if during_interruption(e):  # e.g. a zip archive that could not be closed as Ctrl-C stopped its writing
                raise one_line(f"{running(ctx)}: interrupted", 130) from None
            core = sys.modules.get(f"{__package__}._core")
            if core is not None and isinstance(e, core.CoreError):
                raise one_line(f"{running(ctx)}: the core refused the job: {first_line(e)}", 1) from None
            if os.environ.get("SDAE_TRACEBACK"):
                raise
            raise one_line(f"{running(ctx)}: internal error ({type(e).__name__}: {first_line(e)}); please report it "
                           "with the command line (SDAE_TRACEBACK=1 shows where it happened)", 1) from None


# What to change when memory runs out in spite of the estimate, by command.
OUT_OF_MEMORY_HINTS = {
    "pretrain": "lower --layers or --batch-size, or train on fewer rows",
    "finetune": "lower --batch-size, or fine-tune on fewer rows",
}


def one_line(message: str, exit_code: int) -> click.ClickException:
    error = click.ClickException(" ".join(message.split("\n")))
    error.exit_code = exit_code
    return error


def during_interruption(error: BaseException) -> bool:
    """Whether `error` was raised while a Ctrl-C (KeyboardInterrupt) was being handled."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def failed_allocation(error: MemoryError) -> str:
    """What a MemoryError says could not be allocated: NumPy's 'Unable to allocate 156. GiB for an
    array with shape ...', or the core's std::bad_alloc."""
    found = re.search(r"[Uu]nable to allocate ([0-9.]+ ?[KMGTPE]?i?B)", str(error))
    return f"could not allocate {found.group(1)} more" if found else first_line(error) or "an allocation failed"


def running(ctx: click.Context) -> str:
    """The command of the chain that is running (for messages)."""
    chain = ctx.find_object(Chain)
    return getattr(chain, "running", None) or "sdae"


class Chain:
    """What one command of a chain leaves to the next: the model it trained or loaded."""

    def __init__(self):
        self.model = None
        self.model_name = None
        self.running = None  # the command under way


# Units in one layer: far more than any layer that fits in memory, so a bigger number is a typo.
MAX_LAYER_UNITS = 10**7


def split_list(value: str, convert, param) -> list:
    """The items of a comma-separated option. An empty item is refused rather than skipped:
    `20,,5` is more likely a lost number than a wish for two layers."""
    items = [part.strip() for part in value.split(",")]
    if items == [""]:
        raise click.BadParameter("nothing given; give one value or a comma-separated list", param=param)
    if "" in items:
        raise click.BadParameter(f"{value!r} has an empty item; separate the values with single commas",
                                 param=param)
    try:
        return [convert(item) for item in items]
    except ValueError as e:  # the converters' own one-line messages
        raise click.BadParameter(str(e), param=param) from None


def count(item: str) -> int:
    """A whole number written with digits only: no sign, no underscores, no exponent."""
    if not (item.isascii() and item.isdigit()):
        raise ValueError(f"{item!r} is not a whole number (digits only, no sign)")
    return int(item)


def layer_size(item: str) -> int:
    units = count(item)
    if units == 0:
        raise ValueError("a layer needs at least 1 unit, got 0")
    if units > MAX_LAYER_UNITS:
        raise ValueError(f"{units} units in one layer is more than sdae takes ({MAX_LAYER_UNITS:,}); "
                         "is there a digit too many?")
    return units


def number(item: str) -> float:
    try:
        return float(item)
    except ValueError:
        raise ValueError(f"{item!r} is not a number") from None


def int_list(ctx, param, value):
    return None if value is None else split_list(value, count, param)


def size_list(ctx, param, value):
    """Layer sizes: whole numbers from 1 to MAX_LAYER_UNITS."""
    return None if value is None else split_list(value, layer_size, param)


def float_list(ctx, param, value):
    return None if value is None else split_list(value, number, param)


def choice_list(choices):
    def callback(ctx, param, value):
        items = split_list(value, str, param)
        for item in items:
            if item not in choices:
                raise click.BadParameter(f"{item!r} is not one of {', '.join(choices)}", param=param)
        return items
    return callback


def chain_model(ctx: click.Context, model_path: str | None, command: str):
    """The model named by -m, else the one the command before in the chain left."""
    from .model import SDAE

    chain: Chain = ctx.ensure_object(Chain)
    if model_path is not None:
        chain.model, chain.model_name = SDAE.load(model_path), model_path
    elif chain.model is None:
        raise click.UsageError(f"{command}: no model; give -m MODEL, or run pretrain before it in the chain")
    return chain.model


def source_name(data: str) -> str:
    """How messages name DATA."""
    return "<stdin>" if data == "-" else data


def model_and_data(ctx: click.Context, model_path: str | None, data: str, output: str, key: str | None,
                   command: str, threads: int, text):
    """What every command that runs data through a model starts with: (model, X, source). X is a
    matrix for .npy/.npz files, rows that flow (a block at a time) for text and stdin; `text` (a
    writing.TextOutput): the text columns it sets aside to pass through, and their delimiter."""
    from .row_stream import open_rows

    check_not_input(data, output)
    if model_path is not None:
        check_not_input(model_path, output, what="the model file")  # codes written over their model
    model = chain_model(ctx, model_path, command)
    rows = open_rows(data, key, threads=threads, keep=list(text.keep) or None, join=text.delimiter)
    return model, rows, source_name(data)


def check_not_input(data: str, output: str | None, flag: str = "-o", what: str = "the input file") -> None:
    if output and output != "-" and data != "-" and os.path.exists(output) and os.path.exists(data):
        if os.path.samefile(data, output):
            raise click.BadParameter(f"{output} is {what}; choose another output", param_hint=f"'{flag}'")


def check_writable(path: str, flag: str) -> None:
    """Before any training: a model or checkpoint path whose folder is missing or read-only would
    otherwise fail only after an epoch, or a layer, of work."""
    if path == "-":
        raise click.BadParameter("models are written to files, not to stdout", param_hint=f"'{flag}'")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise click.BadParameter(f"{path}: folder {os.path.dirname(path) or '.'!r} does not exist",
                                 param_hint=f"'{flag}'")
    if not os.access(folder, os.W_OK):
        raise click.BadParameter(f"{path}: cannot write in {os.path.dirname(path) or '.'!r}", param_hint=f"'{flag}'")


def default_model_path(data: str) -> str:
    name = "stdin" if data == "-" else os.path.basename(data)
    for suffix in (".gz", ".npy", ".npz", ".csv", ".tsv", ".txt"):
        name = name[: -len(suffix)] if name.lower().endswith(suffix) else name
    return f"{name}.sdae.npz"


threads_option = click.option("--threads", default=0, show_default=True, type=click.IntRange(0, MAX_THREADS),
                              help="Threads (0: all cores).")
key_option = click.option("--key", help="The array to read from an .npz holding several.")
format_option = click.option("--format", "fmt", type=click.Choice(["npy", "csv"]),
                             help="Output format (default: from the suffix; csv on stdout).")


def compose(*decorators):
    """Several click decorators as one, applied in the order listed (the order --help shows)."""
    def apply(function):
        for decorator in reversed(decorators):
            function = decorator(function)
        return function
    return apply


# -m, DATA, -o, --format, --threads, --key: the commands that run data through a model.
inference_options = compose(
    click.option("-m", "--model", "model_path", help="Model file (default: the model of the command before)."),
    click.argument("data"),
    click.option("-o", "--output", default="-", show_default=True, help="Output file, or - for stdout."),
    format_option, threads_option, key_option,
    click.option("--header", is_flag=True, help="Text output: start with a line of column names."),
    click.option("--precision", type=click.IntRange(1, 9), default=None,
                 help="Text output: significant digits (default: the shortest text that reads back to the "
                      "same float32)."),
    click.option("--keep-columns", help="Columns of CSV/TSV DATA (names, or 0-based indices, comma-separated) "
                                        "to pass through before the outputs, such as ids; the model reads the rest."),
)


def text_output(output: str, fmt: str | None, header: bool, precision: int | None, keep_columns: str | None):
    """The inference commands' text options as one writing.TextOutput, checked against the output
    before any input is read."""
    from .writing import TextOutput, output_format

    keep = tuple(c.strip() for c in keep_columns.split(",")) if keep_columns else ()
    if any(not c for c in keep):
        raise click.BadParameter(f"{keep_columns!r}: an empty column name", param_hint="'--keep-columns'")
    text = TextOutput(header, precision or 0, keep, output_format(output, fmt)[1] or ",")
    text.check(output, fmt)
    return text

def setting_option(flag: str, table: dict, **kwargs):
    """An option for a setting of `table` (training/settings.py): its default, and its choices or
    range as the Click type, so the command line refuses what the table refuses as it parses."""
    name = flag.lstrip("-").replace("-", "_")
    setting = table[name]
    accepts = setting.accepts
    if hasattr(accepts, "names"):
        kwargs.setdefault("type", click.Choice(accepts.names))
    elif hasattr(accepts, "click_type"):
        kwargs.setdefault("type", accepts.click_type())
    if setting.default is not None:
        kwargs.update(default=setting.default, show_default=True)
    return click.option(flag, **kwargs)


def training_options(table: dict, job: str):
    """What pretrain and finetune share (each adds its own --epochs, -o and --resume), from the
    job's settings table."""
    return compose(
        setting_option("--batch-size", table),  # up to the core's int64
        click.option("--lr", type=float, help=lr_help(job)),
        setting_option("--optimizer", table),
        setting_option("--momentum", table),
        setting_option("--lr-schedule", table,
                       help="Learning rate per epoch: constant; exponential (lr * decay^epoch); cosine or linear "
                            "(from lr down to lr * final on the last epoch)."),
        setting_option("--lr-decay", table, help="exponential: the factor applied to the learning rate after each "
                                                 "epoch."),
        setting_option("--lr-final", table, help="cosine, linear: the last epoch's learning rate, as a fraction of "
                                                 "--lr."),
        setting_option("--valid-split", table, help="Fraction of rows held out."),
        setting_option("--seed", table),
        threads_option, key_option,
        click.option("--checkpoint", "checkpoint_path", help="Checkpoint file (default: <output stem>.ckpt.npz)."),
        click.option("--checkpoint-every", default=1, show_default=True, type=click.IntRange(min=0),
                     help="Save progress every N epochs (0: only at finished layers, on interruption or divergence)."),
        click.option("-q", "--quiet", is_flag=True, help="No progress or notes on stderr."),
    )


def given_on_command_line(ctx: click.Context) -> set[str]:
    return {name for name in ctx.params if ctx.get_parameter_source(name).name == "COMMANDLINE"}


def tuned_model_path(model_name: str | None) -> str:
    base = os.path.basename(model_name or "model")
    for suffix in (".sdae.npz", ".npz"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return f"{base}.tuned.sdae.npz"
