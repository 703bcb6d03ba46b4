"""The scikit-learn estimators: scikit-learn's own checks, Pipeline and GridSearchCV, one model
file with the CLI both ways, the parameters against the CLI's options, and the GIL."""
import linecache
import pickle
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("sklearn", reason="scikit-learn is not installed (pip install 'sdae[sklearn]')")

from sklearn.base import clone  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from sdae_cli import SDAE  # noqa: E402
from sdae_cli.cli import cli  # noqa: E402
from sdae_cli.sklearn import SDAEClassifier, SDAETransformer, load  # noqa: E402

FAST = dict(epochs=2, n_threads=1)  # scikit-learn's checks fit many times on tiny data


@parametrize_with_checks([SDAETransformer(layers=(6,), **FAST),
                          SDAETransformer(layers=(6, 3), finetune="reconstruct", finetune_epochs=2, **FAST),
                          SDAEClassifier(layers=(8,), finetune_epochs=20, **FAST)])
def test_scikit_learn_checks(estimator, check):
    """Every check passes: none is listed in expected_failed_checks. (Two skip themselves
    where pandas or the array API is absent.)"""
    check(estimator)


@pytest.fixture(scope="module")
def split(digits):
    """(train X, train y, test X, test y): 500 and 300 of the digits."""
    X, y = digits
    return X[:500], y[:500], X[500:800], y[500:800]


def run_cli(args):
    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:
        runner = CliRunner()
    result = runner.invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


# --------------------------------------------------------------- the parameters are the CLI's options

# The CLI options that are no training setting: files, and how a run is steered or reported.
NOT_SETTINGS = {"output", "resume_path", "key", "checkpoint_path", "checkpoint_every", "quiet", "model_path",
                "labels_path", "label_column", "target", "clean_path", "valid_path", "valid_labels_path"}


def cli_option_names(command):
    return {p.name for p in cli.commands[command].params if p.opts and p.opts[0].startswith("-")}


def test_every_setting_is_a_parameter_and_every_cli_option_a_setting():
    from sdae_cli.training.settings import FINETUNE, PRETRAIN

    renamed = {"seed": "random_state", "threads": "n_threads", "tied": "untied"}
    for estimator in (SDAETransformer(), SDAEClassifier()):
        params = estimator.get_params()
        assert {renamed.get(name, name) for name in PRETRAIN} <= set(params)
        assert {renamed.get(name, "finetune_" + name) for name in FINETUNE} <= set(params)
    for command, table in (("pretrain", PRETRAIN), ("finetune", FINETUNE)):
        settings = {"untied" if name == "tied" else name for name in table}
        assert cli_option_names(command) - NOT_SETTINGS == settings, command
    assert set(SDAETransformer().get_params()) - set(SDAEClassifier().get_params()) == {"finetune"}


def test_defaults_are_the_cli_defaults():
    """As `sdae pretrain --help` and `sdae finetune --help` state them (one-item lists as items)."""
    params = SDAEClassifier().get_params()
    assert {k: params[k] for k in ("layers", "noise", "noise_type", "epochs", "optimizer", "lr", "batch_size",
                                   "valid_split", "untied", "scale", "random_state", "n_threads", "verbose")} == {
        "layers": None, "noise": 0.3, "noise_type": "masking", "epochs": 15, "optimizer": "sgd", "lr": None,
        "batch_size": 32, "valid_split": 0.1, "untied": False, "scale": "auto", "random_state": 0, "n_threads": 0,
        "verbose": 0}
    assert {k: params["finetune_" + k] for k in ("epochs", "optimizer", "lr_schedule", "valid_split", "patience",
                                                 "noise", "dropout", "monitor")} == {
        "epochs": 50, "optimizer": "momentum", "lr_schedule": "cosine", "valid_split": 0.0, "patience": 10,
        "noise": None, "dropout": 0.0, "monitor": None}


def test_defaults_agree_with_the_cli_parse_of_an_empty_command_line():
    params = SDAEClassifier().get_params()
    for command, prefix in (("pretrain", ""), ("finetune", "finetune_")):
        parsed = cli.commands[command].make_context(command, ["DATA"], resilient_parsing=True).params
        for name in cli_option_names(command) - NOT_SETTINGS - {"seed", "threads"}:
            value = parsed[name][0] if isinstance(parsed[name], list) and len(parsed[name]) == 1 else parsed[name]
            assert params[prefix + name] == value, (command, name)
        assert (params["random_state"], params["n_threads"]) == (parsed["seed"], parsed["threads"])


@pytest.mark.parametrize("params, message", [
    (dict(), "SDAETransformer: layers: give the hidden layer sizes, e.g. layers=(500, 250)"),
    (dict(layers=(4, 0)), "SDAETransformer: layers: give one or more positive layer sizes"),
    (dict(layers=4, noise=1.5), "SDAETransformer: noise: 1.5 is not a fraction in [0, 1) for masking noise"),
    (dict(layers=4, noise=(0.1, 0.2)), "SDAETransformer: noise: 2 values given for 1 layers"),
    (dict(layers=4, optimizer="lbfgs"), "SDAETransformer: optimizer: 'lbfgs' is not one of sgd, momentum, adam"),
    (dict(layers=4, n_threads=5000), "SDAETransformer: n_threads: must be in [0, 1024], got 5000"),
    (dict(layers=4, untied="yes"), "SDAETransformer: untied: must be True or False, got 'yes'"),
    (dict(layers=4, finetune="reconstruct", finetune_dropout=1.0), "SDAETransformer: finetune_dropout: must be a"),
    (dict(layers=4, random_state=-1), "SDAETransformer: random_state: must be in [0, 2**64), got -1"),
    (dict(layers=4, finetune="classify"), "SDAETransformer: finetune: 'classify' is not None or 'reconstruct'"),
    (dict(layers=4, finetune="reconstruct", finetune_lr=-1.0), "SDAETransformer: finetune_lr: must be a finite"),
    (dict(layers=4, finetune="reconstruct", finetune_monitor="error"),
     "SDAETransformer: finetune_monitor: reconstruct has no classification error"),
    (dict(layers=4, noise=None), "SDAETransformer: noise: None is not a number"),
    (dict(layers=4, finetune="reconstruct", finetune_lr_factors=(0.5, 1.0, 1.0)),
     "SDAETransformer: finetune_lr_factors: 3 given for the 2 layers of the network"),
    (dict(layers=4, finetune="reconstruct", finetune_lr_factors=(0.5, -1.0)),
     "SDAETransformer: finetune_lr_factors: each factor must be a finite number > 0, got -1.0"),
])
def test_bad_parameters_are_one_value_error_naming_the_parameter(params, message, split):
    with pytest.raises(ValueError) as caught:
        SDAETransformer(**{**FAST, **params}).fit(split[0][:50])
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


# --------------------------------------------------------------- what the estimators compute

def test_transformer_is_the_model_the_cli_would_train(split, tmp_path):
    """The same settings through `sdae pretrain` give the same model, bit for bit."""
    X = split[0]
    np.save(tmp_path / "x.npy", X)
    run_cli(["pretrain", tmp_path / "x.npy", "--layers", "16,8", "--noise", "0.2,0.1", "--epochs", "3",
             "--optimizer", "adam", "--seed", "7", "--threads", "1", "-q", "-o", tmp_path / "cli.npz"])
    estimator = SDAETransformer(layers=(16, 8), noise=(0.2, 0.1), epochs=3, optimizer="adam", random_state=7,
                                n_threads=1).fit(X)
    cli_model = SDAE.load(str(tmp_path / "cli.npz"))
    for ours, theirs in zip(estimator.model_.layers, cli_model.layers):
        np.testing.assert_array_equal(ours.theta, theirs.theta)


def test_transform_denoise_inverse_and_score_samples(split):
    X, _, test, _ = split
    est = SDAETransformer(layers=(24, 8), epochs=3, n_threads=1).fit(X)
    model = est.model_
    codes = est.transform(test)
    assert codes.shape == (300, 8) and codes.dtype == np.float32
    np.testing.assert_array_equal(codes, model.encode(test, threads=1))
    np.testing.assert_array_equal(est.transform(test, layer=1), model.encode(test, 1, threads=1))
    np.testing.assert_array_equal(est.denoise(test), model.denoise(test, threads=1))
    np.testing.assert_array_equal(est.score_samples(test), -model.score(test, threads=1))
    assert est.score(test) == pytest.approx(-np.mean(model.score(test, threads=1)))

    # inverse_transform: the decoders top down, against NumPy (tied: W^T; sigmoid, then the scaling undone)
    h = codes.astype(np.float64)
    for layer in reversed(model.layers):
        p = layer.params()
        h = 1 / (1 + np.exp(-(h @ p["W"].T.astype(np.float64) + p["c"])))
    expected = h * model.scaler.scale + model.scaler.shift
    np.testing.assert_allclose(est.inverse_transform(codes), expected, rtol=1e-4, atol=1e-3)
    # and the whole way round is denoise without corruption
    np.testing.assert_allclose(est.inverse_transform(codes), est.denoise(test), rtol=1e-5, atol=1e-4)
    assert list(est.get_feature_names_out()) == [f"sdaetransformer{i}" for i in range(8)]


def test_finetune_reconstruct_lowers_the_reconstruction_error(split):
    X, _, test, _ = split
    plain = SDAETransformer(layers=(24,), epochs=3, n_threads=1).fit(X)
    tuned = clone(plain).set_params(finetune="reconstruct", finetune_epochs=10, finetune_optimizer="adam").fit(X)
    assert tuned.model_.finetuning["target"] == "reconstruct" and len(tuned.model_.finetuning["history"]) == 10
    assert tuned.score(test) > plain.score(test)  # minus the error: higher is better


def test_classifier_takes_string_labels_and_returns_them(split):
    X, y, test, test_y = split
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    clf = SDAEClassifier(layers=(32,), epochs=5, finetune_epochs=40, n_threads=1).fit(X, names[y])
    assert list(clf.classes_) == sorted(names)
    proba = clf.predict_proba(test)
    assert proba.shape == (300, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    predicted = clf.predict(test)
    np.testing.assert_array_equal(predicted, clf.classes_[proba.argmax(axis=1)])
    assert clf.score(test, names[test_y]) == np.mean(predicted == names[test_y]) > 0.8  # chance: 0.1


# --------------------------------------------------------------- Pipeline and GridSearchCV

def test_pipeline_with_a_logistic_regression_on_the_codes(split):
    X, y, test, test_y = split
    pipe = make_pipeline(SDAETransformer(layers=(32,), epochs=5, n_threads=1), LogisticRegression(max_iter=2000))
    pipe.fit(X, y)
    codes = pipe[0].transform(test)
    np.testing.assert_array_equal(pipe.predict(test), pipe[1].predict(codes))
    assert pipe.score(test, test_y) > 0.75  # chance: 0.1; on the raw pixels: 0.85


def test_grid_search_over_noise_in_a_pipeline(split):
    X, y, _, _ = split
    pipe = make_pipeline(SDAETransformer(layers=(16,), epochs=2, n_threads=1), LogisticRegression(max_iter=500))
    search = GridSearchCV(pipe, {"sdaetransformer__noise": [0.0, 0.3]}, cv=2).fit(X[:300], y[:300])
    assert [p["sdaetransformer__noise"] for p in search.cv_results_["params"]] == [0.0, 0.3]
    assert search.best_estimator_[0].noise == search.best_params_["sdaetransformer__noise"]
    assert search.best_estimator_[0].model_.layers[0].noise_level == search.best_params_["sdaetransformer__noise"]
    # Each candidate's score is that of its settings fitted by hand on the same folds.
    from sklearn.model_selection import check_cv

    folds = list(check_cv(2, y[:300], classifier=True).split(X[:300], y[:300]))
    for i, noise in enumerate([0.0, 0.3]):
        for k, (train, test) in enumerate(folds):
            by_hand = clone(pipe).set_params(sdaetransformer__noise=noise).fit(X[train], y[train])
            assert search.cv_results_[f"split{k}_test_score"][i] == by_hand.score(X[test], y[test])


def test_grid_search_on_threads_gives_the_sequential_result(split):
    """joblib's threads run the fits concurrently (the core releases the GIL): same scores."""
    X, y, _, _ = split
    grid = {"noise": [0.1, 0.4]}
    clf = SDAEClassifier(layers=(12,), finetune_epochs=5, **FAST)
    one = GridSearchCV(clf, grid, cv=2, n_jobs=1).fit(X[:200], y[:200])
    from joblib import parallel_backend

    with parallel_backend("threading", n_jobs=2):
        two = GridSearchCV(clf, grid, cv=2).fit(X[:200], y[:200])
    for key in ("split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(one.cv_results_[key], two.cv_results_[key])


# --------------------------------------------------------------- one model file with the CLI

def test_save_then_cli_encode_gives_the_same_codes_bit_for_bit(split, tmp_path):
    X, _, test, _ = split
    est = SDAETransformer(layers=(20, 6), epochs=2, n_threads=1).fit(X)
    est.save(str(tmp_path / "m.npz"))
    np.save(tmp_path / "t.npy", test)
    run_cli(["encode", "-m", tmp_path / "m.npz", tmp_path / "t.npy", "-o", tmp_path / "codes.npy", "--threads", "1"])
    np.testing.assert_array_equal(np.load(tmp_path / "codes.npy"), est.transform(test))


def test_saved_classifier_predicts_the_same_labels_through_the_cli(split, tmp_path):
    X, y, test, _ = split
    labels = np.array(["a", "b", "c"])[y % 3]
    clf = SDAEClassifier(layers=(16,), finetune_epochs=5, **FAST).fit(X, labels)
    clf.save(str(tmp_path / "c.npz"))
    np.save(tmp_path / "t.npy", test)
    run_cli(["predict", "-m", tmp_path / "c.npz", tmp_path / "t.npy", "-o", tmp_path / "p.txt"])
    assert (tmp_path / "p.txt").read_text().split() == list(clf.predict(test))


def test_a_cli_model_loads_as_a_fitted_estimator(split, tmp_path):
    X, y, test, _ = split
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "t.npy", test)
    run_cli(["pretrain", tmp_path / "x.npy", "--layers", "20,10", "--epochs", "2", "--noise", "0.2",
             "--untied", "-q", "-o", tmp_path / "p.npz",
             "encode", tmp_path / "t.npy", "-o", tmp_path / "codes.npy", "--threads", "1",
             "finetune", tmp_path / "x.npy", "--labels", tmp_path / "y.npy", "--epochs", "3", "-q",
             "-o", tmp_path / "c.npz",
             "predict", tmp_path / "t.npy", "--proba", "-o", tmp_path / "proba.csv", "--threads", "1"])
    pretrained = load(str(tmp_path / "p.npz"))
    assert type(pretrained) is SDAETransformer
    np.testing.assert_array_equal(pretrained.transform(test), np.load(tmp_path / "codes.npy"))
    # Its parameters say how it was trained; a clone retrains the same model.
    params = pretrained.get_params()
    assert (params["layers"], params["epochs"], params["noise"], params["untied"]) == ((20, 10), 2, 0.2, True)
    again = clone(pretrained).set_params(n_threads=0).fit(X)
    for ours, theirs in zip(again.model_.layers, pretrained.model_.layers):
        np.testing.assert_array_equal(ours.theta, theirs.theta)

    tuned = SDAEClassifier.load(str(tmp_path / "c.npz"))
    assert list(tuned.classes_) == list(range(10)) and tuned.get_params()["finetune_epochs"] == 3
    proba = np.loadtxt(tmp_path / "proba.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(tuned.predict_proba(test), proba, rtol=1e-6, atol=1e-7)
    with pytest.raises(Exception, match="the model has no classifier"):
        SDAEClassifier.load(str(tmp_path / "p.npz"))


def test_a_fitted_estimator_pickles_through_its_model_file_arrays(split):
    est = SDAETransformer(layers=(8,), **FAST).fit(split[0])
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.transform(split[2]), est.transform(split[2]))
    assert again.get_params() == est.get_params()


# --------------------------------------------------------------- without scikit-learn; the GIL

def test_without_scikit_learn_the_import_says_how_to_get_it(monkeypatch):
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.") or m == "sdae_cli.sklearn"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn raises ImportError
    with pytest.raises(ImportError) as caught:
        import sdae_cli.sklearn  # noqa: F401
    assert str(caught.value) == "sdae's estimators need scikit-learn: pip install 'sdae[sklearn]'"
    with pytest.raises(ImportError, match=r"pip install 'sdae\[sklearn\]'"):
        from sdae_cli import SDAETransformer  # noqa: F401


def test_importing_without_scikit_learn_in_a_fresh_process():
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "import sdae_cli.sklearn")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "ImportError: sdae's estimators need scikit-learn: pip install 'sdae[sklearn]'")


def at_line(frame, text: str) -> bool:
    return text in (linecache.getline(frame.f_code.co_filename, frame.f_lineno) or "")


def changed_twice_inside_one_call(worker: threading.Thread, call: str, key, array) -> bool:
    """Whether this thread, running Python, saw an array (array(locals) of the frame that makes
    `call`) change twice while that frame stayed on the call with the same key(locals).

    The array changes only inside the core call, and the frame makes that call once per key.
    Were the GIL held through the call, this thread could only look before it or after it: a
    change seen between two looks can be the whole call, but a second change cannot. Each look
    waits for the next change rather than taking three looks at fixed times, so a slow build or
    a busy machine, whose changes come further apart, still shows them."""
    while worker.is_alive():
        frame = sys._current_frames().get(worker.ident)
        if frame is None or not at_line(frame, call):
            time.sleep(0.0005)
            continue
        first = key(frame.f_locals)
        seen, changes = np.array(array(frame.f_locals), copy=True), 0
        while changes < 2:
            time.sleep(0.001)  # a pause, not a measurement: the core gets on meanwhile, or not
            frame = sys._current_frames().get(worker.ident)
            if frame is None or not at_line(frame, call) or key(frame.f_locals) != first:
                break  # the call ended (or the worker moved on): look at the next one
            now = array(frame.f_locals)
            if not np.array_equal(now, seen):
                seen, changes = np.array(now, copy=True), changes + 1
        if changes == 2:
            return True
    return False


@pytest.mark.parametrize("method, call, key, array", [
    # model.iter_encode: one call a chunk, into the chunk's output array
    ("transform", "_core.stack_forward(", lambda local: local["start"], lambda local: local["out"]),
    # pretraining.Run.run_epoch: one call an epoch, updating the layer's parameters in place
    ("fit", "_core.train_epoch(", lambda local: local["state"].epoch, lambda local: local["layer"].theta),
], ids=["transform", "fit"])
def test_the_core_computes_while_python_runs_in_another_thread(split, method, call, key, array):
    """The GIL is released around the core's compute (what joblib's threads need), shown by
    observation, not timing."""
    if method == "transform":  # two 8,192-row chunks, each output written a row panel at a time
        X = np.tile(split[0], (33, 1))
        est = SDAETransformer(layers=(256, 256, 8), epochs=1, n_threads=1).fit(split[0])
    else:  # the first layer's epochs, each updating 33k parameters hundreds of times, a minibatch
        # at a time: long enough (tens of ms) that a fast machine's epoch still spans several looks
        X = np.tile(split[0], (24, 1))
        est = SDAETransformer(layers=(512,), epochs=4, n_threads=1)
    worker = threading.Thread(target=getattr(est, method), args=(X,))
    worker.start()
    try:
        assert changed_twice_inside_one_call(worker, call, key, array)
    finally:
        worker.join()
