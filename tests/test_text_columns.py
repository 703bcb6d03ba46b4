"""Columns that travel with the outputs (--keep-columns), the header and digits of text outputs
(--header, --precision), and labels from a column of the data (finetune --label-column): the
core's cut_columns and paste_lines against Python's split and join, then the command line."""
import io
import subprocess
import time

import numpy as np
import pytest
from test_cli import sdae_program
from test_text import run

from sdae_cli import _core


def python_cut(text: str, delimiter: str, columns: list[int]) -> tuple[str, str]:
    """cut_columns written again with str.split: each non-blank line's cells at `columns` set
    aside (joined by the delimiter) and replaced by 0; short lines left as they are."""
    rest, kept = [], []
    for line in text.split("\n")[:-1]:
        body = line.rstrip("\r")
        if not body.strip():
            rest.append(line)
            continue
        cells = body.split(delimiter)
        kept.append(delimiter.join(cells[c] if c < len(cells) else "" for c in columns))
        if columns[-1] < len(cells):
            cells = ["0" if j in columns else c for j, c in enumerate(cells)]
        rest.append(delimiter.join(cells) + line[len(body):])
    return "".join(r + "\n" for r in rest), "".join(k + "\n" for k in kept)


TEXT = ('id,a,b,name\n7,0.5,1e-3,"Smith"\n\n  \n8,,2,x y\r\n9,1,2,\n10,3\n"q",4,5,w\n'
        ',1,2,\n11,1,2,z,extra\n')


@pytest.mark.parametrize("columns", [[0], [3], [0, 3], [1, 2], [0, 1, 2, 3], [5]])
@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_cut_columns_as_python_splits(columns, delimiter):
    text = TEXT.replace(",", delimiter)
    rest, kept = _core.cut_columns(text.encode(), delimiter, columns, delimiter)
    assert (rest.decode(), kept.decode()) == python_cut(text, delimiter, columns)


def test_cut_columns_on_runs_of_whitespace():
    text = b"  7  1.5 2\n\n 8\t3 4  \r\nshort\n"
    rest, kept = _core.cut_columns(text, "", [0], ",")
    assert kept == b"7\n8\nshort\n" and rest == b"  0  1.5 2\n\n 0\t3 4  \r\n0\n"
    rest, kept = _core.cut_columns(text, "", [1, 2], ";")
    assert kept == b"1.5;2\n3;4\n;\n" and rest == b"  7  0 0\n\n 8\t0 0  \r\nshort\n"


def test_cut_columns_refuses_columns_out_of_order():
    for columns in ([2, 1], [1, 1], [-1]):
        with pytest.raises(_core.CoreError, match="increasing"):
            _core.cut_columns(b"1,2,3\n", ",", columns, ",")


def test_paste_lines_joins_line_by_line():
    assert _core.paste_lines(b"7\n8\n", b"0.5,1\n2,3\n", "\t") == b"7\t0.5,1\n8\t2,3\n"
    assert _core.paste_lines(b"", b"", ",") == b""
    with pytest.raises(_core.CoreError, match="numbers of lines"):
        _core.paste_lines(b"7\n8\n", b"0.5\n", ",")


# ------------------------------------------------------------------- the command line

@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A 6-input model with a classifier, and 3,000 rows of CSV with an id before the inputs and
    a class name after them (the first block a reader takes is its first few lines: the rows
    come in several blocks)."""
    folder = tmp_path_factory.mktemp("columns")
    rng = np.random.default_rng(12)
    X = rng.random((3000, 6)).astype(np.float32)
    names = np.array(["cat", "dog", "eel"])[(X[:, 0] * 3).astype(int)]
    np.save(folder / "x.npy", X)
    cells = _core.format_text(X, ",").decode().splitlines()
    lines = [f"id{i:05d},{row},{name}" for i, (row, name) in enumerate(zip(cells, names))]
    (folder / "d.csv").write_text("id,a,b,c,d,e,f,kind\n" + "\n".join(lines) + "\n")
    run(["pretrain", str(folder / "x.npy"), "--layers", "4", "--epochs", "1", "-q", "-o", str(folder / "m.npz")])
    (folder / "y.txt").write_text("\n".join(names) + "\n")
    run(["finetune", "-m", str(folder / "m.npz"), str(folder / "x.npy"), "--labels", str(folder / "y.txt"),
         "--epochs", "2", "-q", "-o", str(folder / "c.npz")])
    return folder, X, names


def lines_of(output: bytes) -> list[list[str]]:
    return [line.split(",") for line in output.decode().splitlines()]


def through_a_paused_pipe(argv, text: bytes) -> bytes:
    """The command's stdout with `text` written into its stdin in pieces, with pauses."""
    with subprocess.Popen([sdae_program(), *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as process:
        try:
            cuts = np.sort(np.random.default_rng(13).integers(0, len(text), 8))
            for start, stop in zip([0, *cuts], [*cuts, len(text)]):
                process.stdin.write(text[start:stop])
                process.stdin.flush()
                time.sleep(0.02)
            process.stdin.close()
            out = process.stdout.read()
            assert process.wait(timeout=60) == 0, process.stderr.read().decode()
        finally:
            if process.poll() is None:
                process.kill()
    return out


@pytest.mark.parametrize("command,width", [("encode", 4), ("denoise", 6), ("score", 1)])
def test_kept_columns_travel_with_their_rows(files, command, width):
    folder, X, names = files
    model = str(folder / "m.npz")
    run([command, "-m", model, str(folder / "x.npy"), "-o", str(folder / f"{command}.npy")])
    expected = np.load(folder / f"{command}.npy")
    argv = [command, "-m", model, "-", "--keep-columns", "kind,id", "--header"]
    for output in (run([*argv[:3], str(folder / "d.csv"), *argv[4:]]).stdout,
                   through_a_paused_pipe(argv, (folder / "d.csv").read_bytes())):
        header, *rows = lines_of(output)
        outputs = {"encode": [f"h{j}" for j in range(1, 5)], "denoise": list("abcdef"), "score": ["score"]}
        assert header == ["id", "kind", *outputs[command]]  # kept columns in the input's order
        assert [r[0] for r in rows] == [f"id{i:05d}" for i in range(3000)]
        assert [r[1] for r in rows] == names.tolist()
        values = np.array([r[2:] for r in rows], dtype=np.float32)
        assert values.shape == (3000, width)
        assert values.tobytes() == expected.tobytes()  # the file's bits, whatever blocks the pipe gave


def test_predict_keeps_columns_before_labels_and_probabilities(files):
    folder, X, names = files
    classifier, data = str(folder / "c.npz"), str(folder / "d.csv")
    labels = run(["predict", "-m", classifier, str(folder / "x.npy")]).stdout.decode().split()
    header, *rows = lines_of(run(["predict", "-m", classifier, data, "--keep-columns", "0,kind",
                                  "--header"]).stdout)
    assert header == ["id", "kind", "label"]
    assert rows == [[f"id{i:05d}", name, label] for i, (name, label) in enumerate(zip(names, labels))]
    header, *rows = lines_of(run(["predict", "-m", classifier, data, "--keep-columns", "id,kind", "--proba",
                                  "--precision", "3"]).stdout)
    assert header == ["id", "kind", "cat", "dog", "eel"]  # probabilities always name their classes
    assert all(len(r) == 5 and r[0] == f"id{i:05d}" for i, r in enumerate(rows))


def test_kept_cells_take_the_outputs_delimiter(files, tmp_path):
    """TSV in, CSV out (and the other way): the kept cells are joined as the outputs are."""
    folder, X, names = files
    model = str(folder / "m.npz")
    (tmp_path / "d.tsv").write_text((folder / "d.csv").read_text().replace(",", "\t"))
    lines = run(["encode", "-m", model, str(tmp_path / "d.tsv"), "--keep-columns", "kind,id",
                 "--header"]).stdout.decode().splitlines()
    assert lines[0] == "id,kind,h1,h2,h3,h4" and lines[1].startswith("id00000,cat,") and "\t" not in lines[1]
    run(["encode", "-m", model, str(folder / "d.csv"), "--keep-columns", "id,kind", "-o", str(tmp_path / "c.tsv")])
    assert (tmp_path / "c.tsv").read_text().splitlines()[0].split("\t")[:2] == ["id00000", "cat"]
    assert len((tmp_path / "c.tsv").read_text().splitlines()[0].split("\t")) == 6


@pytest.mark.parametrize("digits", [1, 4, 9])
def test_precision_gives_printf_digits(files, digits):
    folder, X, _ = files
    model = str(folder / "m.npz")
    full = np.loadtxt(io.BytesIO(run(["encode", "-m", model, str(folder / "x.npy")]).stdout), delimiter=",",
                      dtype=np.float32)
    text = run(["encode", "-m", model, str(folder / "x.npy"), "--precision", str(digits)]).stdout.decode()
    expected = "".join(",".join(format(float(v), f".{digits}g") for v in row) + "\n" for row in full)
    assert text == expected
    if digits == 9:  # nine digits read back to the same float32
        assert np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float32).tobytes() == full.tobytes()


def test_header_names_each_output(files):
    folder, X, _ = files
    model, npy = str(folder / "m.npz"), str(folder / "x.npy")
    first = {command: run([command, "-m", model, npy, "--header"]).stdout.decode().splitlines()[0]
             for command in ("encode", "denoise", "score")}
    assert first == {"encode": "h1,h2,h3,h4", "denoise": "x1,x2,x3,x4,x5,x6", "score": "score"}
    tsv = run(["denoise", "-m", model, str(folder / "d.csv"), "--keep-columns", "id,kind", "--header",
               "-o", str(folder / "out.tsv")])
    assert tsv.returncode == 0
    assert (folder / "out.tsv").read_text().splitlines()[0] == "id\tkind\ta\tb\tc\td\te\tf"  # DATA's own names
    without = run(["encode", "-m", model, npy]).stdout.decode().splitlines()
    assert len(without) == 3000 and "h1" not in without[0]


@pytest.mark.parametrize("args,message", [
    (["encode", "{x.npy}", "--keep-columns", "id"],
     "{x.npy}: --keep-columns takes columns of CSV/TSV text; this is NPY"),
    (["encode", "{d.csv}", "--keep-columns", "nope"],
     "{d.csv}: --keep-columns: no column named 'nope' (the header has id, a, b, c, d, e, f, kind)"),
    (["encode", "{d.csv}", "--keep-columns", "8"],
     "{d.csv}: --keep-columns 8 out of range: the text has columns 0 to 7"),
    (["encode", "{d.csv}", "--keep-columns", "id"], "{d.csv}: line 2, column 8 (\"kind\"): 'cat' is not a number"),
    (["encode", "{d.csv}", "--keep-columns", "id,kind", "--header", "-o", "{o.npy}"],
     "{o.npy}: --keep-columns shapes text output (.csv, .tsv, .txt or stdout); this is NPY"),
    (["score", "{x.npy}", "--precision", "3", "-o", "{o.npy}"],
     "{o.npy}: --precision shapes text output (.csv, .tsv, .txt or stdout); this is NPY"),
    (["denoise", "{x.npy}", "--header", "--format", "npy", "-o", "{o.csv}"],
     "{o.csv}: --header shapes text output (.csv, .tsv, .txt or stdout); this is NPY"),
])
def test_text_options_refused_in_one_line(files, args, message):
    folder, _, _ = files
    fill = {"{x.npy}": str(folder / "x.npy"), "{d.csv}": str(folder / "d.csv"), "{o.npy}": str(folder / "o.npy"),
            "{o.csv}": str(folder / "o.csv")}
    for key, value in fill.items():
        args = [a.replace(key, value) for a in args]
        message = message.replace(key, value)
    result = run([args[0], "-m", str(folder / "m.npz"), *args[1:]], check=False)
    assert result.returncode == 1
    assert result.stderr.decode().strip().splitlines() == [f"Error: {message}"]
    assert not (folder / "o.npy").exists() and not (folder / "o.csv").exists()


def test_too_many_digits_is_a_usage_error(files):
    folder, _, _ = files
    result = run(["encode", "-m", str(folder / "m.npz"), str(folder / "x.npy"), "--precision", "10"], check=False)
    assert result.returncode == 2 and "--precision" in result.stderr.decode()


def test_a_label_column_is_read_by_the_core_with_the_inputs_own_line_numbers(files, tmp_path):
    folder, X, names = files
    text = (folder / "d.csv").read_text().replace("id", "ident", 1).splitlines()
    data = "\n".join(",".join(line.split(",")[1:]) for line in text) + "\n"  # a,...,f,kind
    (tmp_path / "t.csv").write_text(data)
    out = str(tmp_path / "t.npz")
    base = ["finetune", "-m", str(folder / "m.npz"), str(tmp_path / "t.csv"), "--epochs", "1", "-q", "-o", out]
    assert run([*base, "--label-column", "kind"]).returncode == 0
    assert run([*base, "--label-column", "6"]).returncode == 0
    lines = data.splitlines()
    lines[41] = lines[41].replace(lines[41].split(",")[2], "x", 1)
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    result = run([*base, "--label-column", "kind"], check=False)
    assert result.returncode == 1
    name = tmp_path / "t.csv"
    assert result.stderr.decode().strip() == f"Error: {name}: line 42, column 3 (\"c\"): 'x' is not a number"
    for column, message in [
            ("7", "--label-column 7 out of range: the text has columns 0 to 6"),
            ("label", "--label-column: no column named 'label' (the header has a, b, c, d, e, f, kind)")]:
        result = run([*base, "--label-column", column], check=False)
        assert result.returncode == 1
        assert result.stderr.decode().strip() == f"Error: {name}: {message}"
    result = run(["finetune", "-m", str(folder / "m.npz"), str(folder / "x.npy"), "--label-column", "0", "-o", out],
                 check=False)
    assert result.returncode == 1 and "--label-column takes a column of CSV/TSV text" in result.stderr.decode()
