"""The native text codec (parse_text, format_text) against NumPy and Python's float(), and text
that flows: blocks, pipes held open, bad cells deep in a stream, NPY streams cut short."""
import io
import os
import select
import subprocess
import time

import numpy as np
import pytest
from test_cli import sdae_program

from sdae_cli import _core
from sdae_cli.data import read_matrix
from sdae_cli.errors import DataError
from sdae_cli.row_stream import NpyRows, Source, TextRows, open_rows
from sdae_cli.writing import write_matrix


def every_kind_of_float32(n: int, seed: int = 0) -> np.ndarray:
    """Random bit patterns (all finite: normals, subnormals, both zeros) plus the extremes."""
    bits = np.random.default_rng(seed).integers(0, 2**32, size=n, dtype=np.uint64).astype(np.uint32)
    values = bits.view(np.float32)
    values = values[np.isfinite(values)]
    finfo = np.finfo(np.float32)
    extremes = np.array([0.0, -0.0, finfo.max, -finfo.max, finfo.tiny, -finfo.tiny, finfo.smallest_subnormal,
                         -finfo.smallest_subnormal, np.nextafter(finfo.tiny, 0), 1.0, 0.1, 1e-5, 123456.7],
                        dtype=np.float32)
    return np.concatenate([extremes, values])


def rows_of(values: np.ndarray, cols: int) -> np.ndarray:
    n = len(values) // cols * cols
    return np.ascontiguousarray(values[:n].reshape(-1, cols))


# ------------------------------------------------------------------------- the codec

@pytest.mark.parametrize("threads", [1, 2])
def test_float32_round_trips_bit_for_bit(threads):
    X = rows_of(every_kind_of_float32(60_000), 30)
    text = _core.format_text(X, ",", 0, threads)
    back, refused, _ = _core.parse_text(text, ",", 30, threads)
    assert len(refused) == 0
    np.testing.assert_array_equal(back.view(np.uint32), X.view(np.uint32))  # -0 and subnormals too
    # An independent reader agrees: Python's float() of each cell, made float32, is the same bits.
    cells = text.decode().replace("\n", ",").split(",")[:-1]
    again = np.array([float(c) for c in cells[:5000]]).astype(np.float32)
    np.testing.assert_array_equal(again.view(np.uint32), X.ravel()[:5000].view(np.uint32))


def test_the_text_is_the_shortest_that_reads_back():
    """Never longer than NumPy's shortest unique form (Dragon4) in scientific notation."""
    X = rows_of(every_kind_of_float32(3000, seed=1), 1)
    cells = _core.format_text(X, ",").decode().split("\n")[:-1]
    for value, cell in zip(X[:, 0], cells):
        assert len(cell) <= len(np.format_float_scientific(value, unique=True, trim="-")), (value, cell)


def to_chars_text(value: np.float32) -> str:
    """What std::to_chars(float) writes, built from NumPy's shortest digits (Dragon4): the shorter
    of fixed and scientific notation, fixed on a tie, and a float from 2^24 up (an integer) with
    all its digits in fixed notation."""
    if value == 0:
        return "-0" if np.signbit(value) else "0"
    mantissa, exponent = np.format_float_scientific(value, unique=True, trim="-").split("e")
    sign, digits = ("-" if mantissa.startswith("-") else ""), mantissa.lstrip("-").replace(".", "")
    n, point = len(digits), int(exponent) + 1
    scientific = f"{digits[0]}{'.' + digits[1:] if n > 1 else ''}e{'-' if point <= 0 else '+'}{abs(point - 1):02d}"
    if point >= n:
        fixed = str(int(abs(float(value)))) if abs(value) >= 2**24 else digits + "0" * (point - n)
    elif point > 0:
        fixed = digits[:point] + "." + digits[point:]
    else:
        fixed = "0." + "0" * -point + digits
    return sign + (fixed if len(fixed) <= len(scientific) else scientific)


def test_float32_text_is_what_to_chars_writes():
    """The core's own shortest formatter (shortest_float.cpp, checked against std::to_chars for
    every float32 when it was written) against NumPy's shortest digits, on every kind of float32
    and the places where notation or digits change: powers of two and ten, integers around
    2^24, the largest and the subnormals."""
    special = [2.0 ** e for e in range(-149, 128)] + [10.0 ** e for e in range(-45, 39)]
    special += [2.0**24 + d for d in (-3, -1, 0, 1, 2, 3)] + [123456789.0, 1e14, 99999999.0, 33565872.0]
    X = np.concatenate([every_kind_of_float32(200_000, seed=3), np.array(special, np.float32)])
    X = np.concatenate([X, -X])
    cells = _core.format_text(X[:, None], ",").decode().split("\n")[:-1]
    for value, cell in zip(X, cells):
        assert cell == to_chars_text(value), (value, cell)
    # Rows of 11: eight cells at a time through the vector path (with AVX-512), three one by one.
    n = len(X) // 11 * 11
    cells = _core.format_text(X[:n].reshape(-1, 11), ",").decode().replace("\n", ",").split(",")[:-1]
    assert len(cells) == n
    for value, cell in zip(X[:n], cells):
        assert cell == to_chars_text(value), (value, cell)


def test_precision_gives_printf_g():
    X = rows_of(every_kind_of_float32(2000, seed=2), 4)
    for precision in (1, 3, 6, 9):
        expected = "".join(",".join(f"%.{precision}g" % v for v in row) + "\n" for row in X.tolist())
        assert _core.format_text(X, ";" if precision == 3 else ",", precision).decode() == (
            expected.replace(",", ";") if precision == 3 else expected)


def test_float64_shortest_round_trips():
    X = np.random.default_rng(3).standard_normal((200, 7)) * 10.0 ** np.arange(-3, 4)
    text = _core.format_text(X, "\t")
    np.testing.assert_array_equal(np.loadtxt(io.BytesIO(text), delimiter="\t"), X)


@pytest.mark.parametrize("delimiter", [",", "\t", ";", ""])
def test_parse_matches_numpy_loadtxt(delimiter):
    rng = np.random.default_rng(4)
    X = (rng.standard_normal((3000, 12)) * 10.0 ** rng.integers(-8, 8, (3000, 12))).astype(np.float32)
    lines = []
    for row in X.tolist():
        cells = [f"{v:.{rng.integers(1, 12)}g}" for v in row]
        lines.append((delimiter or "  ").join(cells))
    text = ("\n".join(lines) + "\n").encode()
    back, refused, _ = _core.parse_text(text, delimiter, 12, 2)
    assert len(refused) == 0
    expected = np.loadtxt(io.BytesIO(text), delimiter=delimiter or None, dtype=np.float64).astype(np.float32)
    np.testing.assert_array_equal(back, expected)


def test_parse_cell_forms_as_python_float():
    text = b' 1 ,"2", \'3\' ,+4,-5e-1,.5,6.,INF,-Infinity,nan,1e-50,-1e-50\r\n'
    X, refused, _ = _core.parse_text(text, ",", 12)
    assert len(refused) == 1 and refused[0, 1] == 1  # 1e-50 rounds to zero: Python decides
    X, refused, _ = _core.parse_text(text.replace(b",1e-50,-1e-50", b",0,-0"), ",", 12)
    assert len(refused) == 0
    expected = [float(c.strip().strip("\"'")) for c in text.decode().split(",")[:10]] + [0.0, -0.0]
    np.testing.assert_array_equal(X[0], np.float32(expected))


def nearest_float32(text: str) -> np.float32:
    """The float32 nearest the decimal `text`, ties to the even significand, from its exact value."""
    from fractions import Fraction

    exact = Fraction(text)
    if exact == 0:
        return np.float32(-0.0 if text.startswith("-") else 0.0)
    if abs(exact) >= 2**128 - 2**103:  # at or past halfway from the largest float32 to 2^128
        return np.float32(np.inf if exact > 0 else -np.inf)
    with np.errstate(over="ignore"):  # the neighbours of the largest float32 include inf
        guess = np.float32(float(exact))  # within one float32 step of the answer
        candidates = [np.nextafter(guess, np.float32(-np.inf)), guess, np.nextafter(guess, np.float32(np.inf))]
    candidates = [c for c in candidates if np.isfinite(c)]
    return min(candidates, key=lambda f: (abs(Fraction(float(f)) - exact), int(f.view(np.uint32)) & 1))


def next_to_halfway(rng, count: int) -> list[str]:
    """16-digit decimals that are not halfway between two float32s but whose nearest double is:
    there a double's rounding, then float32's ties to even, would round the wrong way."""
    import math
    from fractions import Fraction

    found = []
    while len(found) < count:
        e, j = int(rng.integers(-20, 21)), int(rng.integers(0, 2**23))
        halfway = Fraction(2**24 + 2 * j + 1, 2**25) * Fraction(2) ** e
        k = 15 - math.floor(math.log10(float(halfway)))
        for w in (math.floor(halfway * 10**k), math.ceil(halfway * 10**k)):
            x = Fraction(w, 10**k)
            if x != halfway and Fraction(float(x)) == halfway and w < 2**53:
                found.append(f"{w}e{-k}")
    return found


def test_parse_is_the_nearest_float32_of_the_decimal():
    """The parser's fast path (w * 10^e in double, then to float32) and its fall-backs against the
    exact nearest float32: 1 to 22 significant digits, exponents far and near, and the decimals
    on or next to a halfway point between two float32s, where a double's rounding could decide."""
    rng = np.random.default_rng(11)
    texts = []
    for _ in range(6000):
        digits = "".join(rng.choice(list("0123456789"), size=rng.integers(1, 23)))
        point = rng.integers(0, len(digits) + 1)
        mantissa = (digits[:point] or "0") + ("." + digits[point:] if point < len(digits) else "")
        exponent = rng.integers(-30, 31)
        texts.append(("-" if rng.random() < 0.3 else "") + mantissa + (f"e{exponent}" if rng.random() < 0.5 else ""))
    for base in (2**24 + 1, 2**24 + 3, 2**25 + 2, 2**26 + 12, 3 * 2**23 + 0.5):  # exactly halfway
        texts += [repr(float(base)), f"{base:.8f}"[:-1] + "1", f"{base - 1e-8:.8f}"]
    texts += next_to_halfway(rng, 40)
    texts += ["0.1", "1e-38", "1.1754943e-38", "3.4028235e38", "3.4028236e38", "16777217", "0.000001", "7e22"]
    tiny = np.finfo(np.float32).tiny  # the core leaves what rounds to inf or a subnormal to Python
    texts = [t for t in texts if np.isfinite(nearest_float32(t)) and (float(t) == 0 or abs(nearest_float32(t)) >= tiny)]
    assert {"3.4028235e38", "1.1754943e-38", "7e22"} <= set(texts)
    got, refused, _ = _core.parse_text(("\n".join(texts) + "\n").encode(), ",", 1)
    assert len(refused) == 0
    expected = np.array([nearest_float32(t) for t in texts], dtype=np.float32)
    bad = [(t, g, e) for t, g, e in zip(texts, got[:, 0], expected) if g.view(np.uint32) != e.view(np.uint32)]
    assert not bad, bad[:5]


@pytest.mark.parametrize("line", [b"1,nan(1)", b"1,+-2", b"1,1e", b"1,0x10", b"1,", b"1,2,3", b"1", b"1,\xc2\xa02",
                                  b"1,1_0", b"1,1e39", b'1,"2'])
def test_the_core_leaves_what_it_does_not_know_to_python(line):
    X, refused, _ = _core.parse_text(b"0,0\n" + line + b"\n", ",", 2)
    assert refused.tolist() == [[1, 2, 4, 4 + len(line)]]


def test_blank_lines_crlf_and_line_numbers():
    text = b"\r\n1,2\r\n \t\r\n\r\n3,4\r\r\n\n5,x"
    X, refused, lines = _core.parse_text(text, ",", 2)
    assert refused[:, 1].tolist() == [7] and X.shape == (3, 2) and lines == 7
    np.testing.assert_array_equal(X[:2], [[1, 2], [3, 4]])


# ------------------------------------------------------------------ reading text files

def test_forms_only_python_knows_still_read(tmp_path):
    """Underscores, non-ASCII digits and spaces: the lines go to Python's float(), as before."""
    path = tmp_path / "odd.csv"
    path.write_text("a,b\n1_000,2\n\u0663,\u00a04\n\u00a0\n5,6\n", encoding="utf-8")
    back = read_matrix(str(path))
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, [[1000, 2], [3, 4], [5, 6]])


def test_a_value_beyond_float32_names_its_line_and_column(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("x,y\n1,2\n3,-1e39\n")
    with pytest.raises(DataError, match=r"big.csv: line 3, column 2 \(\"y\"\): '-1e39' is beyond float32's range"):
        read_matrix(str(path))


def stream_of(text: bytes, max_rows: int) -> np.ndarray:
    rows = TextRows("<stdin>", Source(io.BytesIO(text)))
    return np.concatenate([X for _, X in rows.blocks(max_rows)])


@pytest.mark.parametrize("max_rows", [1, 2, 7, 1000])
def test_blocks_of_any_size_read_as_the_whole(tmp_path, max_rows):
    text = '\ufeff"a";"b"\r\n\r\n1;2\r\n "3" ;4\r\n\r\n5;6e1\r\n7;8'.encode()
    (tmp_path / "w.csv").write_bytes(text)
    whole = read_matrix(str(tmp_path / "w.csv"))
    np.testing.assert_array_equal(whole, [[1, 2], [3, 4], [5, 60], [7, 8]])
    np.testing.assert_array_equal(stream_of(text, max_rows), whole)


def test_utf16_stream():
    text = "a\tb\n1\t2\n3\t4\n".encode("utf-16")
    np.testing.assert_array_equal(stream_of(text, 1), [[1, 2], [3, 4]])


@pytest.mark.parametrize("max_rows", [1, 3, 100])
def test_a_bad_cell_in_a_later_block_names_its_line(max_rows):
    text = b"h1,h2\n" + b"1,2\n" * 10 + b"\n3,oops\n"
    with pytest.raises(DataError) as info:
        for _ in TextRows("<stdin>", Source(io.BytesIO(text))).blocks(max_rows):
            pass
    assert str(info.value) == "<stdin>: line 13, column 2 (\"h2\"): 'oops' is not a number"


def test_header_only_and_empty_streams():
    for text, message in [(b"", "no data rows (the file is empty)"), (b"\n \n", "no data rows (the file is empty)"),
                          (b"a,b\n\n", "no data rows (only a header)")]:
        with pytest.raises(DataError) as info:
            stream_of(text, 10)
        assert str(info.value) == f"<stdin>: {message}"


def test_text_files_and_stdin_open_as_rows_npy_files_as_arrays(tmp_path):
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    write_matrix(str(tmp_path / "x.csv"), X)
    np.save(tmp_path / "x.npy", X)
    assert isinstance(open_rows(str(tmp_path / "x.csv")), TextRows)
    assert isinstance(open_rows(str(tmp_path / "x.npy")), np.ndarray)
    buffer = io.BytesIO()
    np.save(buffer, X)
    rows = open_rows("-", stdin=io.BytesIO(buffer.getvalue()))
    assert isinstance(rows, NpyRows) and rows.shape == (4, 3)
    np.testing.assert_array_equal(np.concatenate([b for _, b in rows.blocks(3)]), X)


def test_a_truncated_npy_stream_says_so():
    buffer = io.BytesIO()
    np.save(buffer, np.ones((100, 10), dtype=np.float32))
    rows = open_rows("-", stdin=io.BytesIO(buffer.getvalue()[:-50]))
    with pytest.raises(DataError, match=r"^<stdin>: the NPY stream ended after 98 of its 100 rows"):
        for _ in rows.blocks(7):
            pass


# ------------------------------------------------------------------ the command line, as a pipeline

@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("text_model")
    X = np.random.default_rng(5).random((300, 6)).astype(np.float32)
    np.save(folder / "x.npy", X)
    run(["pretrain", str(folder / "x.npy"), "--layers", "4", "--epochs", "1", "-q", "-o", str(folder / "m.npz")])
    return str(folder / "m.npz")


def run(argv, stdin=b"", check=True):
    result = subprocess.run([sdae_program(), *argv], input=stdin, capture_output=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr.decode()
    return result


def test_a_bad_cell_at_row_150000_leaves_valid_csv_and_no_file(model, tmp_path):
    rng = np.random.default_rng(6)
    X = rng.random((200_000, 6)).astype(np.float32)
    text = bytearray(b"a,b,c,d,e,f\n" + _core.format_text(X, ","))
    start = text.index(b"\n")  # the header's end
    for _ in range(150_000):
        start = text.index(b"\n", start + 1)
    end = text.index(b"\n", start + 1)
    text[start + 1:end] = b"1,2,3,4,5,bad"  # line 150,002: data row 150,001
    result = run(["encode", "-m", model, "-"], bytes(text), check=False)
    assert result.returncode == 1
    assert result.stderr.decode().strip().splitlines()[-1] == \
        "Error: <stdin>: line 150002, column 6 (\"f\"): 'bad' is not a number"
    out = result.stdout.decode()
    assert out.endswith("\n")  # whole lines only: what came out reads as CSV
    codes = np.loadtxt(io.StringIO(out), delimiter=",", dtype=np.float32, ndmin=2)
    assert codes.shape[1] == 4 and 0 < len(codes) <= 150_000
    expected = run(["encode", "-m", model, "-"], _core.format_text(X[:len(codes)], ","))
    np.testing.assert_array_equal(codes, np.loadtxt(io.BytesIO(expected.stdout), delimiter=",", dtype=np.float32))
    result = run(["encode", "-m", model, "-", "-o", str(tmp_path / "codes.csv")], bytes(text), check=False)
    assert result.returncode == 1 and os.listdir(tmp_path) == []


def test_the_first_codes_leave_before_the_input_ends(model):
    """A pipe held open: rows written, a line of codes read back while stdin is still open."""
    with subprocess.Popen([sdae_program(), "encode", "-m", model, "-"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as process:
        try:
            X = np.random.default_rng(7).random((5, 6)).astype(np.float32)
            process.stdin.write(_core.format_text(X, ","))
            process.stdin.flush()
            ready, _, _ = select.select([process.stdout], [], [], 60)
            assert ready, "no output while the input stayed open"
            first = process.stdout.readline()
            assert process.poll() is None  # still waiting for the rest of its input
            assert len(first.split(b",")) == 4
            process.stdin.write(_core.format_text(X, ","))
            process.stdin.close()
            rest = process.stdout.read()
            assert process.wait(timeout=60) == 0
            assert len((first + rest).splitlines()) == 10
        finally:
            if process.poll() is None:
                process.kill()


def test_an_npy_stream_held_open_passes_its_first_rows_on(model):
    X = np.random.default_rng(9).random((10, 6)).astype(np.float32)
    buffer = io.BytesIO()
    np.save(buffer, X)
    raw = buffer.getvalue()
    with subprocess.Popen([sdae_program(), "encode", "-m", model, "-"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as process:
        try:
            process.stdin.write(raw[:len(raw) - 5 * 6 * 4])  # the header and 5 of the 10 rows
            process.stdin.flush()
            ready, _, _ = select.select([process.stdout], [], [], 60)
            assert ready, "no output while the input stayed open"
            first = process.stdout.readline()
            assert process.poll() is None and len(first.split(b",")) == 4
            process.stdin.write(raw[len(raw) - 5 * 6 * 4:])
            process.stdin.close()
            rest = process.stdout.read()
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.kill()
    # The same codes as the whole input in one go, bit for bit: a row's codes do not depend on the
    # rows computed with it (test_rowwise.py), so not on where the writer's pause cut the stream.
    expected = np.loadtxt(io.BytesIO(run(["encode", "-m", model, "-"], raw).stdout), delimiter=",", dtype=np.float32)
    got = np.loadtxt(io.BytesIO(first + rest), delimiter=",", dtype=np.float32)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("command", ["encode", "denoise", "score"])
def test_a_pipe_cut_anywhere_gives_the_bits_of_the_file(model, tmp_path, command):
    """A writer pausing at random places (mid-line too): the blocks the reader gets follow the
    pauses, and the output is still the file's, bit for bit."""
    X = np.random.default_rng(10).random((3000, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    text = _core.format_text(X, ",")
    run([command, "-m", model, str(tmp_path / "x.npy"), "-o", str(tmp_path / "file.npy")])
    expected = np.load(tmp_path / "file.npy")
    cuts = np.sort(np.random.default_rng(11).integers(0, len(text), 12))
    with subprocess.Popen([sdae_program(), command, "-m", model, "-", "-o", str(tmp_path / "pipe.npy")],
                          stdin=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        try:
            for start, stop in zip([0, *cuts], [*cuts, len(text)]):
                process.stdin.write(text[start:stop])
                process.stdin.flush()
                time.sleep(0.02)
            process.stdin.close()
            assert process.wait(timeout=60) == 0, process.stderr.read().decode()
        finally:
            if process.poll() is None:
                process.kill()
    assert np.load(tmp_path / "pipe.npy").tobytes() == expected.tobytes()


def test_csv_and_npy_pipelines_agree(model, tmp_path):
    X = np.random.default_rng(8).random((1000, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    write_matrix(str(tmp_path / "x.csv"), X)
    for command in ("encode", "denoise", "score"):
        from_npy = run([command, "-m", model, str(tmp_path / "x.npy"), "-o", str(tmp_path / "a.npy")])
        from_csv = run([command, "-m", model, "-", "-o", str(tmp_path / "b.npy")], (tmp_path / "x.csv").read_bytes())
        assert from_npy.returncode == from_csv.returncode == 0
        np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
        text = run([command, "-m", model, str(tmp_path / "x.csv")]).stdout
        np.testing.assert_array_equal(np.loadtxt(io.BytesIO(text), delimiter=",", dtype=np.float32, ndmin=2),
                                      np.load(tmp_path / "a.npy"))
