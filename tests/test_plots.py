"""`sdae show` and the demo's pictures: each PNG read back and checked against the model.

Tiled pictures are grey tiles on a coloured grid (plots.py), so the tiles can be found in the file
by colour alone; the expected geometry is worked out here from the unit count, independently
of plots.py's own Grid.
"""
import math
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from sdae_cli import SDAE, PretrainConfig, pretrain
from sdae_cli.cli import cli

image = pytest.importorskip("matplotlib.image", reason="matplotlib is not installed (pip install 'sdae[plot]')")


@pytest.fixture
def runner():
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def run(runner, args, code=0):
    result = runner.invoke(cli, [str(a) for a in args])
    output = result.stdout + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in output
    assert result.exit_code == code, (result.exit_code, output, result.exception)
    return result


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, digits):
    """A 64-20-6 stack on the digits (8x8 images), two epochs a layer."""
    path = tmp_path_factory.mktemp("plots") / "m.npz"
    pretrain(digits[0][:300], PretrainConfig(layers=[20, 6], epochs=2, seed=0, threads=1)).save(str(path))
    return str(path)


def rgb(path):
    picture = image.imread(str(path))
    return picture[:, :, :3]


def expected_shape(units, tile, cols=None):
    """(height, width) in pixels: a grid of ceil(sqrt(units)) columns (or `cols`), one-pixel
    borders, every pixel zoomed so that a tile's longer side reaches at least 32 pixels."""
    cols = cols or math.ceil(math.sqrt(units))
    rows = math.ceil(units / cols)
    zoom = math.ceil(32 / max(tile))
    return zoom * (rows * (tile[0] + 1) + 1), zoom * (cols * (tile[1] + 1) + 1), zoom


def runs(flags):
    """(start, stop) of each run of True in a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], flags.astype(int), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def tiles(picture):
    """The grey tiles of a picture, row by row: a list of rows of (top, left, height, width).
    A pixel is a tile's when it is grey (R = G = B); the coloured grid is not."""
    grey = (picture[:, :, 0] == picture[:, :, 1]) & (picture[:, :, 1] == picture[:, :, 2])
    found = []
    for top, bottom in runs(grey.any(axis=1)):
        band = grey[top:bottom]
        found.append([(top, left, bottom - top, right - left) for left, right in runs(band.all(axis=0))])
    return found


def unit_range(vectors):
    lo, hi = vectors.min(axis=1, keepdims=True), vectors.max(axis=1, keepdims=True)
    return (vectors - lo) / (hi - lo)


def check_tiles(picture, images, tile, zoom, cols):
    """Each tile where the grid puts image i, holding image i (grey levels to PNG's 8 bits)."""
    found = tiles(picture)
    flat = [t for row in found for t in row]
    assert len(flat) == len(images)
    assert [len(row) for row in found] == [min(cols, len(images) - r * cols) for r in range(len(found))]
    for i, (top, left, h, w) in enumerate(flat):
        assert (h, w) == (zoom * tile[0], zoom * tile[1])
        shown = picture[top:top + h:zoom, left:left + w:zoom, 0]
        np.testing.assert_allclose(shown, np.clip(images[i], 0, 1).reshape(tile), atol=1.01 / 255)


def filters_shown(runner, model_file, tmp_path, args, units, tile):
    """`sdae show --filters` with args, read back; its size checked against `units` tiles of `tile`."""
    out = tmp_path / "f.png"
    run(runner, ["show", "-m", model_file, "--filters", out, *args])
    picture = rgb(out)
    height, width, zoom = expected_shape(units, tile)
    assert picture.shape[:2] == (height, width)
    return picture, zoom


def weights(model_file, layer=0):
    return SDAE.load(model_file).layers[layer].params()["W"].astype(np.float64)


def test_filters_tile_each_first_layer_unit_on_its_own_range(runner, model_file, tmp_path):
    picture, zoom = filters_shown(runner, model_file, tmp_path, [], 20, (8, 8))
    assert picture.shape[:2] == (148, 184)
    assert picture.std() > 0.1  # not blank
    check_tiles(picture, unit_range(weights(model_file).T), (8, 8), zoom, cols=5)  # W (64, 20)


def test_filters_of_layer_2_are_the_product_of_the_weights(runner, model_file, tmp_path):
    picture, zoom = filters_shown(runner, model_file, tmp_path, ["--layer", "2"], 6, (8, 8))
    product = weights(model_file) @ weights(model_file, 1)
    check_tiles(picture, unit_range(product.T), (8, 8), zoom, cols=3)


def test_image_shape_gives_the_tiles_their_shape(runner, model_file, tmp_path):
    picture, zoom = filters_shown(runner, model_file, tmp_path, ["--image-shape", "4x16"], 20, (4, 16))
    check_tiles(picture, unit_range(weights(model_file).T), (4, 16), zoom, cols=5)


def test_reconstructions_show_input_corrupted_and_denoised(runner, model_file, tmp_path, digits):
    from sdae_cli.plots import corrupted_copy

    data = tmp_path / "x.npy"
    X = digits[0][1000:1007]
    np.save(data, X)
    out = tmp_path / "r.png"
    run(runner, ["show", "-m", model_file, "--reconstructions", out, data, "--samples", "5", "--threads", "1"])
    picture = rgb(out)
    height, width, zoom = expected_shape(15, (8, 8), cols=5)
    assert picture.shape[:2] == (height, width)
    model = SDAE.load(model_file)
    clean = X[:5].astype(np.float64)
    noisy = corrupted_copy(model, X[:5], threads=1)
    lo, hi = clean.min(), clean.max()
    assert lo == 0 and hi > 0
    # Masking noise: each corrupted pixel is the clean one or zero, and some are zero.
    assert np.all((noisy == clean) | (noisy == 0)) and np.any((noisy == 0) & (clean > 0))
    denoised = model.denoise(noisy, threads=1)
    images = (np.concatenate([clean, noisy, denoised]) - lo) / (hi - lo)
    check_tiles(picture, images, (8, 8), zoom, cols=5)


@pytest.mark.parametrize("value, said", [(1e300, "beyond float32's range"), (np.nan, "NaN or infinite")])
def test_reconstructions_of_values_float32_cannot_hold_are_one_line(runner, model_file, tmp_path, digits,
                                                                   value, said):
    """Found by the command-line fuzzer: float64 rows beyond float32 met the cast to float32
    unchecked and came out as an internal error."""
    X = digits[0][:3].astype(np.float64)
    X[1, 5] = value
    np.save(tmp_path / "x.npy", X)
    out = tmp_path / "r.png"
    result = run(runner, ["show", "-m", model_file, "--reconstructions", out, tmp_path / "x.npy"], code=1)
    assert result.stderr.count("\n") == 1 and said in result.stderr, result.stderr
    assert "the first at row 2, column 6" in result.stderr
    assert not out.exists()


def test_curves_draw_every_stage_from_the_history(runner, tmp_path, digits):
    X, y = digits
    np.save(tmp_path / "x.npy", X[:400])
    np.save(tmp_path / "y.npy", y[:400])
    model_path = tmp_path / "t.npz"
    run(runner, ["pretrain", tmp_path / "x.npy", "--layers", "12,6", "--epochs", "3", "-q", "--threads", "1",
                 "-o", tmp_path / "p.npz",
                 "finetune", tmp_path / "x.npy", "--labels", tmp_path / "y.npy", "--epochs", "4",
                 "--valid-split", "0.2", "-q", "--threads", "1", "-o", model_path])
    out = tmp_path / "c.png"
    run(runner, ["show", "-m", model_path, "--curves", out])
    picture = rgb(out)
    assert picture.shape[:2] == (320, 3 * 400)  # one 4x3.2-inch panel a stage at 100 dpi
    assert picture.std() > 0.05

    from sdae_cli.plots import curves

    model = SDAE.load(str(model_path))
    drawn = curves(model, str(tmp_path / "again.png"))
    assert [p["title"] for p in drawn] == ["layer 1 (64->12)", "layer 2 (12->6)", "fine-tuning (classify)"]
    assert [p["epoch"] for p in drawn] == [[1, 2, 3], [1, 2, 3], [1, 2, 3, 4]]
    for k in range(2):
        assert drawn[k]["train"] == [r["train"] for r in model.history[k]] and len(drawn[k]["train"]) == 3
        assert drawn[k]["valid"] == [r["valid"] for r in model.history[k]] and drawn[k]["valid_error"] is None
    tuned = model.finetuning["history"]
    assert drawn[2]["valid_error"] == [r["valid_error"] for r in tuned] and len(tuned) == 4
    assert all(0 <= e <= 1 for e in drawn[2]["valid_error"])


@pytest.mark.parametrize("args, code, message", [
    (["--filters", "f.png", "--image-shape", "7x9"], 1, "7x9 = 63 pixels, but the model has 64 inputs"),
    (["--filters", "f.png", "--image-shape", "8by8"], 1, "expected HEIGHTxWIDTH"),
    (["--filters", "f.png", "--layer", "3"], 1, "--layer 3 is out of range: the model has layers 1 to 2"),
    ([], 2, "give --filters, --curves or --reconstructions"),
    (["--reconstructions", "r.png"], 2, "--reconstructions needs DATA"),
    (["--filters", "f.png", "--curves", "f.png"], 2, "give each picture its own file"),
    (["--filters", "nowhere/f.png"], 2, "folder 'nowhere' does not exist"),
    (["--curves", "-"], 2, "Invalid value for '--curves': pictures are written to files, not to stdout"),
])
def test_show_refuses_in_one_line(runner, model_file, tmp_path, monkeypatch, args, code, message):
    monkeypatch.chdir(tmp_path)
    result = run(runner, ["show", "-m", model_file, *args], code)
    lines = result.stderr.strip().splitlines()  # usage errors (exit 2) come after click's usage hint
    assert lines[-1].startswith("Error:") and message in lines[-1]
    assert sum(line.startswith("Error") for line in lines) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_non_square_input_asks_for_image_shape(runner, tmp_path):
    X = np.random.default_rng(0).random((40, 10), dtype=np.float32)
    np.save(tmp_path / "x.npy", X)
    run(runner, ["pretrain", tmp_path / "x.npy", "--layers", "3", "--epochs", "1", "-q", "-o", tmp_path / "m.npz"])
    result = run(runner, ["show", "-m", tmp_path / "m.npz", "--filters", tmp_path / "f.png"], 1)
    assert result.stderr.strip() == "Error: the model's 10 inputs are not a square image; give --image-shape HxW"
    run(runner, ["show", "-m", tmp_path / "m.npz", "--filters", tmp_path / "f.png", "--image-shape", "2x5"])
    assert rgb(tmp_path / "f.png").shape[:2] == expected_shape(3, (2, 5))[:2]


def test_without_matplotlib_show_says_how_to_get_it(runner, model_file, tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    result = run(runner, ["show", "-m", model_file, "--filters", tmp_path / "f.png"], 1)
    assert result.stderr.strip() == ("Error: pictures need matplotlib: pip install 'sdae[plot]' "
                                     "(or pip install matplotlib)")
    assert list(tmp_path.iterdir()) == []


def test_show_takes_the_model_of_the_command_before(runner, tmp_path, digits):
    np.save(tmp_path / "x.npy", digits[0][:100])
    run(runner, ["pretrain", tmp_path / "x.npy", "--layers", "9", "--epochs", "1", "-q", "-o", tmp_path / "m.npz",
                 "show", "--filters", tmp_path / "f.png", "--curves", tmp_path / "c.png"])
    assert rgb(tmp_path / "f.png").shape[:2] == expected_shape(9, (8, 8))[:2]
    assert rgb(tmp_path / "c.png").shape[:2] == (320, 400)


def test_a_damaged_history_is_refused_in_one_line(runner, model_file, tmp_path):
    model = SDAE.load(model_file)
    model.history = [[{"epoch": 1, "train": "lots"}], []]
    model.save(str(tmp_path / "d.npz"))
    result = run(runner, ["show", "-m", tmp_path / "d.npz", "--curves", tmp_path / "c.png"], 1)
    assert result.stderr.strip() == (f"Error: {tmp_path / 'd.npz'}: damaged training history in the model's "
                                     "metadata (ValueError: could not convert string to float: 'lots')")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz"]
