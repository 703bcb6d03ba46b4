"""The Python model API: pretrain, encode, denoise, save and load."""
import json
import os

import numpy as np
import pytest

import sdae_cli
from sdae_cli import SDAE, DataError, ModelError, PretrainConfig, TrainingError, pretrain
from sdae_cli.errors import ConfigError
from sdae_cli.training.state import validation_rows


def params(model):
    """Every parameter block by its file name (W0, b0, c0, Wd0, W1, ...)."""
    return {f"{name}{k}": value for k, layer in enumerate(model.layers) for name, value in layer.params().items()}


def assert_same_params(a, b):
    pa, pb = params(a), params(b)
    assert pa.keys() == pb.keys()
    for name in pa:
        assert np.array_equal(pa[name], pb[name]), name


@pytest.fixture
def model(small_data):
    return pretrain(small_data, PretrainConfig(layers=[8, 4], epochs=2, threads=1))


@pytest.fixture
def model_path(tmp_path, model):
    path = str(tmp_path / "m.npz")
    model.save(path)
    return path


# ------------------------------------------------------------------- the file

def test_save_load_round_trip(model, model_path, small_data):
    back = SDAE.load(model_path)
    assert back.sizes == model.sizes == [10, 8, 4]
    assert back.meta() == model.meta()
    original, loaded = model.arrays(), back.arrays()
    assert original.keys() == loaded.keys()
    for name in original:
        if name != "meta":
            assert loaded[name].dtype == original[name].dtype, name
            assert np.array_equal(loaded[name], original[name]), name
    assert np.array_equal(back.encode(small_data), model.encode(small_data))


@pytest.mark.parametrize("tied", [True, False])
def test_model_file_is_a_plain_npz_with_json_meta(tmp_path, small_data, tied):
    config = PretrainConfig(layers=[8, 4], epochs=3, tied=tied, noise=[0.1, 0.2],
                            noise_type=["masking", "gaussian"], activation=["tanh", "sigmoid"], seed=7)
    path = str(tmp_path / "m.npz")
    pretrain(small_data, config).save(path)

    with np.load(path, allow_pickle=False) as npz:
        files = {name: npz[name] for name in npz.files}
    expected = {"meta", "W0", "b0", "c0", "W1", "b1", "c1"} | (set() if tied else {"Wd0", "Wd1"})
    assert set(files) == expected
    assert files["W0"].shape == (10, 8) and files["b0"].shape == (8,) and files["c0"].shape == (10,)
    assert files["W1"].shape == (8, 4) and files["b1"].shape == (4,) and files["c1"].shape == (8,)
    if not tied:
        assert files["Wd0"].shape == (8, 10) and files["Wd1"].shape == (4, 8)
    for name, array in files.items():
        if name != "meta":
            assert array.dtype == np.float32 and np.all(np.isfinite(array)), name

    assert files["meta"].shape == () and files["meta"].dtype.kind == "U"
    meta = json.loads(str(files["meta"]))
    assert meta["format_version"] == 1
    assert meta["tool_version"] == sdae_cli.__version__
    assert meta["sizes"] == [10, 8, 4]
    assert meta["scaling"] == "none"
    assert meta["seed"] == 7
    assert [(la["activation"], la["noise_type"], la["noise_level"], la["loss"]) for la in meta["layers"]] == [
        ("tanh", "masking", 0.1, "cross-entropy"), ("sigmoid", "gaussian", 0.2, "mse")]  # tanh codes: mse
    assert [la["tied"] for la in meta["layers"]] == [tied, tied]
    history = meta["history"]
    assert len(history) == 2
    for per_layer in history:
        assert [record["epoch"] for record in per_layer] == [1, 2, 3]
        for record in per_layer:
            assert np.isfinite(record["train"]) and record["train"] > 0
            assert np.isfinite(record["valid"]) and record["valid"] > 0


def write_bytes(path, data: bytes):
    with open(path, "wb") as f:
        f.write(data)


def missing(model_path, bad):
    return bad  # never created


def truncated(model_path, bad):
    with open(model_path, "rb") as f:
        raw = f.read()
    write_bytes(bad, raw[: len(raw) // 2])
    return bad


def random_bytes(model_path, bad):
    write_bytes(bad, np.random.default_rng(0).bytes(4096))
    return bad


def without_meta(model_path, bad):
    arrays = SDAE.load(model_path).arrays()
    del arrays["meta"]
    np.savez(bad, **arrays)
    return bad


def npy_array(model_path, bad):
    np.save(bad, np.ones((3, 3), np.float32))
    return bad


def transposed_W0(model_path, bad):
    arrays = SDAE.load(model_path).arrays()
    arrays["W0"] = np.ascontiguousarray(arrays["W0"].T)
    np.savez(bad, **arrays)
    return bad


@pytest.mark.parametrize("make", [missing, truncated, random_bytes, without_meta, npy_array, transposed_W0])
def test_load_refuses_what_is_not_a_valid_model(tmp_path, model_path, make):
    bad = make(model_path, str(tmp_path / "bad.npz"))
    with pytest.raises(ModelError) as caught:
        SDAE.load(bad)
    message = str(caught.value)
    assert bad in message
    assert "\n" not in message
    if make is transposed_W0:
        assert "W0" in message


def test_load_refuses_a_newer_format_and_says_to_upgrade(tmp_path, model_path):
    model = SDAE.load(model_path)
    arrays = model.arrays()
    meta = model.meta()
    meta["format_version"] = 999
    arrays["meta"] = np.array(json.dumps(meta))
    bad = str(tmp_path / "future.npz")
    np.savez(bad, **arrays)
    with pytest.raises(ModelError) as caught:
        SDAE.load(bad)
    message = str(caught.value)
    assert bad in message and "999" in message
    assert "newer" in message and "upgrade" in message


class CreatesMarker:
    """Unpickling this object creates a directory: proof that a pickle payload ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


@pytest.mark.parametrize("entry", ["W0", "meta"])
def test_load_refuses_pickled_objects_without_running_them(tmp_path, model_path, entry):
    marker = tmp_path / "payload-ran"
    arrays = SDAE.load(model_path).arrays()
    arrays[entry] = np.array([CreatesMarker(str(marker))], dtype=object)
    evil = str(tmp_path / "evil.npz")
    np.savez(evil, **arrays)  # np.savez pickles object arrays (allow_pickle defaults to True)

    with pytest.raises(ModelError) as caught:
        SDAE.load(evil)
    assert evil in str(caught.value)
    assert "pickle" in str(caught.value)
    assert not marker.exists()

    # The payload is live: a loader that unpickled would have run it.
    with np.load(evil, allow_pickle=True) as npz:
        npz[entry]
    assert marker.is_dir()


def test_save_refuses_non_finite_parameters_and_writes_nothing(tmp_path, model):
    model.layers[1].theta[3] = np.nan
    path = tmp_path / "m.npz"
    with pytest.raises(ModelError) as caught:
        model.save(str(path))
    assert "layer 2" in str(caught.value) and "non-finite" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- reproducibility

@pytest.fixture(scope="module")
def wider_data():
    return np.random.default_rng(1).random((300, 40), dtype=np.float32)


def fit(X, **settings):
    config = dict(layers=[24, 12], epochs=2, batch_size=16)
    config.update(settings)
    return pretrain(X, PretrainConfig(**config))


@pytest.mark.parametrize("threads", [1, 2])
def test_same_seed_same_parameters(wider_data, threads):
    assert_same_params(fit(wider_data, threads=threads, seed=3), fit(wider_data, threads=threads, seed=3))


def test_different_seeds_different_parameters(wider_data):
    a, b = params(fit(wider_data, threads=1, seed=0)), params(fit(wider_data, threads=1, seed=1))
    assert not np.allclose(a["W0"], b["W0"])
    assert not np.allclose(a["W1"], b["W1"])


def test_thread_count_barely_changes_the_model(wider_data):
    one, two = params(fit(wider_data, threads=1)), params(fit(wider_data, threads=2))
    for name in one:
        np.testing.assert_allclose(two[name], one[name], rtol=1e-4, atol=1e-5, err_msg=name)


# ---------------------------------------------------------------- scaling

def test_auto_scaling_of_0_16_data_is_minmax_and_denoise_answers_in_its_units(digits):
    X, _ = digits
    train, test = X[:600], X[600:900]
    model = pretrain(train, PretrainConfig(layers=[64], epochs=10))
    assert model.scaler.kind == "minmax"
    assert model.layers[0].loss == "cross-entropy"
    out = model.denoise(test)
    assert out.shape == test.shape and out.dtype == np.float32
    assert out.min() >= -0.5 and out.max() <= 16.5
    assert out.max() > 12  # in pixel units, not the scaled [0, 1]
    assert np.mean(np.abs(out - test)) < 0.35 * test.std()


def test_standard_scaling_chooses_mse_and_a_linear_decoder():
    X = np.random.default_rng(2).normal(5.0, 3.0, (300, 12)).astype(np.float32)
    model = pretrain(X, PretrainConfig(layers=[8], epochs=5, scale="standard"))
    assert model.scaler.kind == "standard"
    assert (model.layers[0].loss, model.layers[0].decoder) == ("mse", "linear")
    np.testing.assert_allclose(model.scaler.shift, X.mean(axis=0, dtype=np.float64), rtol=1e-6)
    out = model.denoise(X)
    assert out.shape == X.shape
    assert abs(float(out.mean()) - 5.0) < 0.5  # back in the data's units: scaled data has mean 0
    assert float(out.std()) > 1.0
    history = [record["train"] for record in model.history[0]]
    assert history[-1] < history[0]


def test_data_in_unit_interval_is_not_scaled_and_uses_cross_entropy(small_data):
    model = pretrain(small_data, PretrainConfig(layers=[6], epochs=1))
    assert model.scaler.kind == "none"
    assert (model.layers[0].loss, model.layers[0].decoder) == ("cross-entropy", "sigmoid")
    assert model.meta()["scaling"] == "none"


def test_cross_entropy_without_scaling_on_0_16_data_is_refused(small_data):
    with pytest.raises(ConfigError) as caught:
        pretrain(small_data * 16, PretrainConfig(layers=[4], loss="cross-entropy", scale="none", epochs=1))
    assert caught.value.option == "loss"
    assert "[0, 1]" in str(caught.value)


# ---------------------------------------------------------------- encode

def test_encode_shape_for_each_layer(small_data):
    model = pretrain(small_data, PretrainConfig(layers=[8, 5, 3], epochs=1))
    for k, width in [(1, 8), (2, 5), (3, 3), (None, 3)]:
        codes = model.encode(small_data, layer=k)
        assert codes.shape == (60, width) and codes.dtype == np.float32
        assert np.all((codes > 0) & (codes < 1))  # sigmoid codes
    assert np.array_equal(model.encode(small_data, layer=1), model.layers[0].encode(small_data))
    with pytest.raises(ValueError):
        model.encode(small_data, layer=4)


def test_chunked_iter_encode_matches_one_shot_encode(model, small_data):
    # Bit for bit: inference's products give a row the same bits in any chunk (test_rowwise.py).
    for k in (1, 2):
        chunks = list(model.iter_encode(small_data, layer=k, chunk_rows=7))
        assert [len(c) for c in chunks] == [7] * 8 + [4]
        assert np.concatenate(chunks).tobytes() == model.encode(small_data, layer=k).tobytes()


def test_denoise_and_score_take_any_decoder_whatever_the_training_loss():
    """Inference runs the unrolled chain with no loss in it: a linear decoder on a layer whose
    loss says cross-entropy (possible from the API or a hand-made file) still denoises."""
    from sdae_cli.layer import Layer
    from sdae_cli.scaling import Scaler

    rng = np.random.default_rng(0)
    layer = Layer(6, 4, decoder="linear")
    assert layer.loss == "cross-entropy"
    layer.theta[:] = rng.normal(0, 0.5, layer.theta.size)
    model = SDAE([layer], Scaler("none"))
    X = rng.random((9, 6), dtype=np.float32)
    p = layer.params()
    H = 1 / (1 + np.exp(-(X.astype(np.float64) @ p["W"] + p["b"])))
    Z = H @ p["W"].T + p["c"]
    np.testing.assert_allclose(model.denoise(X), Z, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.score(X), ((Z - X) ** 2).mean(axis=1), rtol=1e-4, atol=1e-6)


def test_encode_refuses_wrong_column_count(model, small_data):
    with pytest.raises(DataError) as caught:
        model.encode(small_data[:, :7])
    assert "7" in str(caught.value) and "10" in str(caught.value)


# ---------------------------------------------------------------- bad input, bad training

def test_nan_input_is_refused_naming_count_and_first_cell(small_data):
    X = small_data.copy()
    X[3, 4] = np.nan
    X[7, 1] = np.inf
    X[9, 0] = np.nan
    with pytest.raises(DataError) as caught:
        pretrain(X, PretrainConfig(layers=[4], epochs=1), source="x.csv")
    message = str(caught.value)
    assert "x.csv" in message and "3 NaN" in message
    assert "row 4" in message and "column 5" in message


def test_divergence_stops_with_a_hint_about_the_learning_rate(small_data):
    X = small_data * 1000
    try:
        model = pretrain(X, PretrainConfig(layers=[8], epochs=3, lr=1e6, loss="mse", scale="standard"))
    except TrainingError as e:
        assert "--lr" in str(e) and "diverged" in str(e)
    else:  # had it trained, the model must be finite
        assert all(np.all(np.isfinite(layer.theta)) for layer in model.layers)


# ---------------------------------------------------------------- it learns

def test_denoising_masked_held_out_digits(digits):
    X, _ = digits
    held_out = validation_rows(len(X), 0.3, 0)
    train, test = X[~held_out], X[held_out]
    model = pretrain(train, PretrainConfig(layers=[128], epochs=30, noise=0.3))
    mask = np.random.default_rng(1).random(test.shape) < 0.3
    masked = np.where(mask, 0.0, test).astype(np.float32)
    error_masked = np.mean((masked - test) ** 2)
    error_denoised = np.mean((model.denoise(masked) - test) ** 2)
    assert error_denoised < 0.6 * error_masked
