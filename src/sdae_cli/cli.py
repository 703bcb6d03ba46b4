"""The `sdae` command: a Click group whose commands chain, passing the model along.

Commands stay thin: parse, call the model API, write. Heavy imports happen inside the
commands so that `sdae --help` answers at once.
"""
from __future__ import annotations

import click

from . import __version__
from .cli_support import (
    Chain,
    SdaeGroup,
    chain_model,
    check_not_input,
    check_writable,
    choice_list,
    default_model_path,
    float_list,
    given_on_command_line,
    inference_options,
    int_list,
    key_option,
    model_and_data,
    setting_option,
    size_list,
    source_name,
    text_output,
    threads_option,
    training_options,
    tuned_model_path,
)
from .options import ACTIVATIONS, CORRUPTIONS, TARGETS
from .training.settings import FINETUNE, PRETRAIN


@click.group(cls=SdaeGroup, chain=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sdae")
@click.pass_context
def cli(ctx):
    """Stacked denoising autoencoders on the CPU.

    Commands chain: `sdae pretrain x.npy --layers 500,250 -o m.npz encode x.npy -o codes.npy`
    runs both in one process, encode using the model pretrain made.
    """
    ctx.ensure_object(Chain)


@cli.command()
@click.argument("data")
@click.option("-o", "--output", help="Model file (default: <DATA stem>.sdae.npz here).")
@click.option("--layers", callback=size_list, help="Hidden layer sizes, e.g. 500,250 (required unless --resume).")
@click.option("--noise", default=str(PRETRAIN["noise"].default), show_default=True, callback=float_list,
              help="Corruption level: one, or one per layer (masking/salt-pepper: fraction; gaussian: sigma).")
@click.option("--noise-type", default=PRETRAIN["noise_type"].default, show_default=True,
              callback=choice_list(CORRUPTIONS),
              help="masking, gaussian or salt-pepper: one, or one per layer.")
@click.option("--epochs", default=str(PRETRAIN["epochs"].default), show_default=True, callback=int_list,
              help="Epochs per layer: one, or one per layer (0 keeps a layer's random initial weights).")
@setting_option("--loss", PRETRAIN)
@setting_option("--decoder", PRETRAIN)
@click.option("--activation", default=PRETRAIN["activation"].default, show_default=True,
              callback=choice_list(ACTIVATIONS),
              help="Encoder activation: one, or one per layer.")
@click.option("--untied", is_flag=True, help="Give each decoder its own weights instead of W transposed.")
@setting_option("--scale", PRETRAIN)
@click.option("--resume", "resume_path", help="Continue the run saved in this checkpoint, on the same DATA.")
@training_options(PRETRAIN, "pretrain")
@click.pass_context
def pretrain(ctx, data, output, layers, noise, noise_type, epochs, batch_size, lr, optimizer, momentum, lr_schedule,
             lr_decay, lr_final, loss, decoder, activation, untied, scale, valid_split, seed, threads, key,
             checkpoint_path, checkpoint_every, resume_path, quiet):
    """Train the stack layer by layer on DATA (.npy, .npz, .csv, .tsv, .txt, or - for stdin)."""
    from .data import read_matrix
    from .pretraining import pretrain as run_pretrain
    from .progress import CliReporter
    from .training import checkpoints
    from .training.configs import PretrainConfig
    from .training.settings import resumed_settings

    output = output or default_model_path(data)
    check_not_input(data, output)
    check_writable(output, "-o")
    check_writable(checkpoint_path or checkpoints.default_path(output), "--checkpoint")
    settings = dict(
        layers=layers, noise=noise, noise_type=noise_type, activation=activation, loss=loss, decoder=decoder,
        tied=not untied, epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr, momentum=momentum,
        lr_schedule=lr_schedule, lr_decay=lr_decay, lr_final=lr_final, scale=scale, valid_split=valid_split,
        seed=seed, threads=threads,
    )
    if resume_path is not None:  # the checkpoint's settings, except those given on this command line
        given = given_on_command_line(ctx)
        given |= {"tied"} if "untied" in given else set()
        settings = resumed_settings(checkpoints.saved_settings(resume_path, "pretrain"), settings, given)
    elif layers is None:
        raise click.UsageError("pretrain: give --layers (e.g. --layers 500,250), or --resume CHECKPOINT")
    config = PretrainConfig(**settings)
    X = read_matrix(data, key)
    saving = checkpoints.Checkpointing(checkpoint_path or checkpoints.default_path(output), checkpoint_every)
    model = run_pretrain(X, config, CliReporter(quiet), source_name(data), saving, resume_path)
    model.save(output)
    checkpoints.remove(saving.path)
    chain: Chain = ctx.ensure_object(Chain)
    chain.model, chain.model_name = model, output
    if not quiet:
        click.echo(f"wrote model {output} ({'-'.join(map(str, model.sizes))})", err=True)


@cli.command()
@inference_options
@click.option("--layer", type=int, help="Encode up to layer K (1 = first hidden layer; default: the top).")
@click.pass_context
def encode(ctx, model_path, data, output, layer, fmt, threads, key, header, precision, keep_columns):
    """Write the codes of DATA: the activations of the top layer (or layer K)."""
    from .writing import write_blocks

    text = text_output(output, fmt, header, precision, keep_columns)
    model, X, source = model_and_data(ctx, model_path, data, output, key, "encode", threads, text)
    if layer is not None and not 1 <= layer <= len(model.layers):
        raise click.BadParameter(f"{layer} is out of range: the model has layers 1 to {len(model.layers)}",
                                 param_hint="'--layer'")
    n_hidden = model.layers[(layer or len(model.layers)) - 1].n_hidden
    write_blocks(output, X.shape[0], n_hidden, model.iter_encode(X, layer, threads, source, reuse=True), fmt,
                 text=text, names=[f"h{j}" for j in range(1, n_hidden + 1)], rows=X)


@cli.command()
@inference_options
@click.pass_context
def denoise(ctx, model_path, data, output, fmt, threads, key, header, precision, keep_columns):
    """Write the reconstruction of DATA through the whole stack, in DATA's units."""
    from .writing import write_blocks

    text = text_output(output, fmt, header, precision, keep_columns)
    model, X, source = model_and_data(ctx, model_path, data, output, key, "denoise", threads, text)
    names = getattr(X, "names", None) or [f"x{j}" for j in range(1, model.n_in + 1)]  # DATA's own, if it has a header
    write_blocks(output, X.shape[0], model.n_in, model.iter_denoise(X, threads, source, reuse=True), fmt,
                 text=text, names=names, rows=X)


def check_finetune_options(params: dict) -> None:
    has_labels = params["labels_path"] is not None or params["label_column"] is not None
    target = params["target"] or ("classify" if has_labels else None)
    if target is None:
        raise click.UsageError("finetune: give --labels (or --label-column) to classify, or --target reconstruct")
    if target == "reconstruct" and has_labels:
        raise click.BadParameter("labels are for --target classify; reconstruct learns from DATA alone",
                                 param_hint="'--labels'")
    if target == "classify" and not has_labels:
        raise click.BadParameter("classify needs --labels or --label-column", param_hint="'--target'")
    if params["clean_path"] is not None and target != "reconstruct":
        raise click.BadParameter("--clean goes with --target reconstruct", param_hint="'--clean'")
    if target == "classify" and (params["valid_path"] is None) != (params["valid_labels_path"] is None):
        raise click.BadParameter("give --valid and --valid-labels together", param_hint="'--valid'")
    if target == "reconstruct" and (params["valid_path"] or params["valid_labels_path"]):
        raise click.BadParameter("--valid/--valid-labels go with --target classify; reconstruct holds out "
                                 "--valid-split of DATA", param_hint="'--valid'")


@cli.command()
@click.option("-m", "--model", "model_path", help="Pretrained model (default: the model of the command before).")
@click.argument("data")
@click.option("--labels", "labels_path", help="Labels, one per row of DATA (.npy, .csv, .txt).")
@click.option("--label-column", help="Take the labels from this column (name or 0-based index) of DATA's CSV.")
@click.option("--target", type=click.Choice(TARGETS),
              help="classify (with labels; the default) or reconstruct (the unrolled autoencoder).")
@click.option("--clean", "clean_path", help="reconstruct: clean rows paired with DATA's noisy ones.")
@click.option("-o", "--output", help="Tuned model file (default: <model stem>.tuned.sdae.npz here).")
@setting_option("--epochs", FINETUNE)
@click.option("--valid", "valid_path", help="Validation rows (instead of --valid-split).")
@click.option("--valid-labels", "valid_labels_path", help="Labels of --valid.")
@setting_option("--patience", FINETUNE,
              help="Stop after this many epochs without a better validation figure (--monitor).")
@setting_option("--monitor", FINETUNE,
              help="The validation figure that picks the kept epoch and drives --patience (default: error to "
                   "classify, loss to reconstruct).")
@click.option("--noise", type=float, help="Input corruption while fine-tuning (reconstruct: default the model's).")
@click.option("--noise-type", type=click.Choice(CORRUPTIONS))
@setting_option("--dropout", FINETUNE,
              help="Fraction of every hidden layer's units dropped at random for each training row.")
@click.option("--lr-factors", callback=float_list,
              help="Each layer's learning rate as a factor of --lr, bottom up, the output layer last: "
                   "0.1,0.3,1,1 (the MNIST recipe) for 784-1000-1000-1000-10 lets lower layers keep more of what "
                   "pretraining learnt.")
@setting_option("--average-from", FINETUNE,
              help="From epoch K on, validate and keep the mean of the parameters of every epoch since K "
                   "(stochastic weight averaging, SWA; 0: off).")
@click.option("--resume", "resume_path", help="Continue the run saved in this checkpoint (same DATA and labels).")
@training_options(FINETUNE, "finetune")
@click.pass_context
def finetune(ctx, model_path, data, labels_path, label_column, target, clean_path, output, epochs, batch_size, lr,
             optimizer, momentum, lr_schedule, lr_decay, lr_final, valid_split, valid_path, valid_labels_path,
             patience, monitor, noise, noise_type, dropout, lr_factors, average_from, seed, threads, key,
             checkpoint_path, checkpoint_every, resume_path, quiet):
    """Fine-tune the whole stack on DATA: with labels (a softmax on top), or to reconstruct."""
    from .data import read_matrix
    from .finetuning import base_model, finetune_reconstruct, finetune_supervised
    from .labels import read_labels, split_label_column
    from .progress import CliReporter
    from .training import checkpoints
    from .training.configs import FinetuneConfig
    from .training.settings import resumed_settings

    target = target or "classify"
    chain: Chain = ctx.ensure_object(Chain)
    settings = dict(epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr, momentum=momentum,
                    lr_schedule=lr_schedule, lr_decay=lr_decay, lr_final=lr_final, valid_split=valid_split,
                    patience=patience, monitor=monitor, noise=noise, noise_type=noise_type, dropout=dropout,
                    lr_factors=lr_factors, average_from=average_from,
                    seed=seed, threads=threads)
    if resume_path is not None:  # the model and settings the checkpoint started from
        model = base_model(resume_path)
        settings = resumed_settings(checkpoints.saved_settings(resume_path, "finetune"), settings,
                                    given_on_command_line(ctx))
    else:
        model = chain_model(ctx, model_path, "finetune")
    output = output or tuned_model_path(chain.model_name or model_path)
    check_not_input(data, output)
    check_writable(output, "-o")
    check_writable(checkpoint_path or checkpoints.default_path(output), "--checkpoint")
    config = FinetuneConfig(**settings)
    saving = checkpoints.Checkpointing(checkpoint_path or checkpoints.default_path(output), checkpoint_every)
    source = source_name(data)
    reporter = CliReporter(quiet)
    if label_column is not None:
        X, labels = split_label_column(data, label_column)
    else:
        X = read_matrix(data, key)
        labels = read_labels(labels_path) if labels_path is not None else None
    if target == "classify":
        valid = None
        if valid_path is not None:
            valid = (read_matrix(valid_path), read_labels(valid_labels_path))
        tuned = finetune_supervised(model, X, labels, config, reporter, valid, source, saving, resume_path)
    else:
        clean = read_matrix(clean_path) if clean_path is not None else None
        tuned = finetune_reconstruct(model, X, config, reporter, clean, source, saving, resume_path)
    tuned.save(output)
    checkpoints.remove(saving.path)
    chain.model, chain.model_name = tuned, output
    if not quiet:
        from .report import kept_epoch_summary

        click.echo(f"wrote model {output} ({target}; {kept_epoch_summary(tuned.finetuning)})", err=True)


finetune.callback.check_options = check_finetune_options


@cli.command()
@inference_options
@click.option("--proba", is_flag=True, help="One probability column per class instead of labels.")
@click.pass_context
def predict(ctx, model_path, data, output, proba, fmt, threads, key, header, precision, keep_columns):
    """Write the predicted label of each row of DATA (or the class probabilities)."""
    from .writing import write_predictions

    text = text_output(output, fmt, header, precision, keep_columns)
    model, X, source = model_and_data(ctx, model_path, data, output, key, "predict", threads, text)
    if model.classes is None:
        raise click.ClickException("predict: the model has no classifier; fine-tune it with labels first "
                                   "(sdae finetune --labels)")
    write_predictions(output, model.iter_predict_proba(X, threads, source), model.classes, proba, fmt,
                      text=text, rows=X)


@cli.command()
@inference_options
@click.pass_context
def score(ctx, model_path, data, output, fmt, threads, key, header, precision, keep_columns):
    """Write each row's reconstruction error through the stack: high scores flag unusual rows."""
    from .writing import write_blocks

    text = text_output(output, fmt, header, precision, keep_columns)
    model, X, source = model_and_data(ctx, model_path, data, output, key, "score", threads, text)
    write_blocks(output, X.shape[0], 1, model.iter_score(X, threads, source), fmt, text=text, names=["score"],
                 rows=X)


@cli.command()
@click.argument("model_path", metavar="MODEL")
def info(model_path):
    """Print a model's architecture, training settings and history."""
    from .errors import ModelError
    from .model import SDAE
    from .report import describe

    model = SDAE.load(model_path)
    try:
        text = describe(model, model_path)
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as e:  # the loader checks what computing needs
        raise ModelError(f"{model_path}: damaged description in its metadata ({type(e).__name__}: {e})") from None
    click.echo(text)


@cli.command()
@click.option("-m", "--model", "model_path", help="Model file (default: the model of the command before).")
@click.argument("data", required=False)
@click.option("--filters", "filters_path", help="PNG of the filters: each unit's input weights as an image.")
@click.option("--layer", default=1, show_default=True, type=click.IntRange(min=1),
              help="--filters of layer K: the product of the weights from the input up to it.")
@click.option("--image-shape", help="HEIGHTxWIDTH of an input row seen as an image (default: a square).")
@click.option("--curves", "curves_path", help="PNG of the loss per epoch of every layer and the fine-tuning.")
@click.option("--reconstructions", "reconstructions_path",
              help="PNG of DATA's first rows: input, corrupted, and denoised through the stack.")
@click.option("--samples", default=10, show_default=True, type=click.IntRange(1, 1000),
              help="How many rows of DATA --reconstructions shows.")
@threads_option
@key_option
@click.pass_context
def show(ctx, model_path, data, filters_path, layer, image_shape, curves_path, reconstructions_path, samples,
         threads, key):
    """Write pictures of a model as PNG files: its filters, learning curves, reconstructions of DATA."""
    from . import plots

    if not (filters_path or curves_path or reconstructions_path):
        raise click.UsageError("show: give --filters, --curves or --reconstructions (each a PNG file to write)")
    if (data is None) != (reconstructions_path is None):
        raise click.BadParameter("--reconstructions needs DATA, and DATA is only for --reconstructions",
                                 param_hint="'--reconstructions'")
    outputs = [p for p in (filters_path, curves_path, reconstructions_path) if p]
    if len(set(outputs)) < len(outputs):
        raise click.BadParameter("give each picture its own file", param_hint="'--filters'")
    for path, flag in ((filters_path, "--filters"), (curves_path, "--curves"),
                       (reconstructions_path, "--reconstructions")):
        if path == "-":
            raise click.BadParameter("pictures are written to files, not to stdout", param_hint=f"'{flag}'")
        if path:
            check_writable(path, flag)
            if model_path is not None:
                check_not_input(model_path, path, flag, what="the model file")
            if data is not None:
                check_not_input(data, path, flag)
    plots.require_matplotlib()
    model = chain_model(ctx, model_path, "show")
    if filters_path:
        plots.filters(model, filters_path, image_shape, layer)
    if curves_path:
        from .errors import ModelError

        try:
            plots.curves(model, curves_path)
        except ModelError as e:
            raise ModelError(f"{ctx.ensure_object(Chain).model_name}: {e}") from None
    if reconstructions_path:
        from .data import read_matrix

        plots.reconstructions(model, read_matrix(data, key), reconstructions_path, image_shape, samples, threads)
    for path in outputs:
        click.echo(f"wrote {path}", err=True)


@cli.command()
@threads_option
@click.option("--pictures", default=".", show_default=True,
              help="Folder for the filters and learning curves (PNG, with matplotlib installed).")
@click.option("--no-pictures", is_flag=True, help="Write no pictures.")
def demo(threads, pictures, no_pictures):
    """Pretrain on the digits shipped with sdae, then denoise masked held-out digits."""
    import os

    from .demo import run_demo

    if not no_pictures and not os.path.isdir(pictures):
        raise click.BadParameter(f"{pictures}: no such folder", param_hint="'--pictures'")
    run_demo(threads, echo=click.echo, pictures=None if no_pictures else pictures)


def main() -> None:
    import signal

    def terminate(signum, frame):
        raise KeyboardInterrupt  # SIGTERM stops as cleanly as Ctrl-C: checkpoint, then exit

    signal.signal(signal.SIGTERM, terminate)
    cli(prog_name="sdae")
