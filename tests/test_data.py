"""Reading matrices: every format, stdin, text parsing and read errors."""
import io

import numpy as np
import pytest

from sdae_cli import data
from sdae_cli.data import read_matrix
from sdae_cli.errors import DataError, SdaeError
from sdae_cli.writing import write_matrix


def write_text(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return str(path)


# ------------------------------------------------------------ round trips

@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv", ".tsv", ".txt"])
def test_round_trip_files(tmp_path, matrix, suffix):
    path = str(tmp_path / ("m" + suffix))
    write_matrix(path, matrix)
    back = read_matrix(path)
    assert back.shape == matrix.shape
    np.testing.assert_array_equal(back.astype(np.float32), matrix)
    if suffix in (".npy", ".npz"):
        assert back.dtype == np.float32
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_tsv_and_csv_use_the_right_delimiter(tmp_path, matrix):
    write_matrix(str(tmp_path / "m.tsv"), matrix)
    write_matrix(str(tmp_path / "m.csv"), matrix)
    first_tsv = (tmp_path / "m.tsv").read_text().splitlines()[0]
    first_csv = (tmp_path / "m.csv").read_text().splitlines()[0]
    assert first_tsv.count("\t") == 5 and "," not in first_tsv
    assert first_csv.count(",") == 5
    # no header line: as many lines as rows
    assert len((tmp_path / "m.csv").read_text().splitlines()) == matrix.shape[0]


def test_csv_writes_the_shortest_text_that_reads_back_to_the_float32(tmp_path):
    write_matrix(str(tmp_path / "m.csv"), np.array([[0.1, 1.0, -0.0, 1e-45]], dtype=np.float32))
    assert (tmp_path / "m.csv").read_text() == "0.1,1,-0,1e-45\n"


def test_float64_csv_round_trips_exactly(tmp_path):
    """float64 is written exactly (NumPy reads it back bit for bit); sdae reads text as the
    float32 it computes in, each value the float32 nearest the text."""
    values = np.random.default_rng(0).standard_normal((5, 3))
    write_matrix(str(tmp_path / "m.csv"), values)
    np.testing.assert_array_equal(np.loadtxt(tmp_path / "m.csv", delimiter=","), values)
    back = read_matrix(str(tmp_path / "m.csv"))
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, values.astype(np.float32))


def test_int_and_bool_csv(tmp_path):
    write_matrix(str(tmp_path / "i.csv"), np.array([[1, -2], [3, 4]], dtype=np.int64))
    write_matrix(str(tmp_path / "b.csv"), np.array([[True, False]]))
    assert (tmp_path / "i.csv").read_text() == "1,-2\n3,4\n"
    assert (tmp_path / "b.csv").read_text() == "1,0\n"


def test_npz_written_under_key_data(tmp_path, matrix):
    write_matrix(str(tmp_path / "m.npz"), matrix)
    with np.load(tmp_path / "m.npz") as npz:
        assert npz.files == ["data"]
        np.testing.assert_array_equal(npz["data"], matrix)


def test_explicit_fmt_overrides_suffix(tmp_path, matrix):
    write_matrix(str(tmp_path / "out.bin"), matrix, fmt="npy")
    assert (tmp_path / "out.bin").read_bytes().startswith(b"\x93NUMPY")
    np.testing.assert_array_equal(read_matrix(str(tmp_path / "out.bin")), matrix)  # sniffed
    write_matrix(str(tmp_path / "out.dat"), matrix, fmt="csv")
    np.testing.assert_array_equal(read_matrix(str(tmp_path / "out.dat")).astype(np.float32),
                                  matrix)


def test_npy_is_memory_mapped_and_not_converted(tmp_path):
    values = np.arange(12, dtype=np.int16).reshape(3, 4)
    np.save(tmp_path / "m.npy", values)
    back = read_matrix(str(tmp_path / "m.npy"))
    assert isinstance(back, np.memmap)
    assert back.dtype == np.int16
    np.testing.assert_array_equal(back, values)
    del back


def test_npz_single_array_and_key(tmp_path, matrix):
    np.savez(tmp_path / "one.npz", whatever=matrix)
    np.testing.assert_array_equal(read_matrix(str(tmp_path / "one.npz")), matrix)
    np.savez(tmp_path / "two.npz", x=matrix, y=matrix[:3])
    assert read_matrix(str(tmp_path / "two.npz"), key="y").shape == (3, 6)


def test_stdin_npy_bytes(matrix):
    buffer = io.BytesIO()
    np.save(buffer, matrix)
    back = read_matrix("-", stdin=io.BytesIO(buffer.getvalue()))
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, matrix)


def test_stdin_csv_text(matrix):
    out = io.BytesIO()
    write_matrix("-", matrix, stdout=out)  # "-" defaults to csv
    assert out.getvalue()[:1] != b"\x93"
    back = read_matrix("-", stdin=io.BytesIO(out.getvalue()))
    np.testing.assert_array_equal(back.astype(np.float32), matrix)


def test_stdout_npy(matrix):
    out = io.BytesIO()
    write_matrix("-", matrix, fmt="npy", stdout=out)
    out.seek(0)
    np.testing.assert_array_equal(np.load(out), matrix)


def test_stdin_npz_bytes(matrix):
    out = io.BytesIO()
    write_matrix("-", matrix, fmt="npz", stdout=out)
    np.testing.assert_array_equal(read_matrix("-", stdin=io.BytesIO(out.getvalue())), matrix)


# ------------------------------------------------------------- text parsing

def test_header_is_detected_and_skipped(tmp_path):
    path = write_text(tmp_path / "h.csv", "age,height\n1,2\n3,4\n")
    np.testing.assert_array_equal(read_matrix(path), [[1, 2], [3, 4]])


def test_bom_crlf_quotes_and_trailing_blank_lines(tmp_path):
    text = '\ufeff"a","b"\r\n"1.5","2"\r\n3,"-4e-1"\r\n\r\n\r\n'
    path = write_text(tmp_path / "w.csv", text)
    back = read_matrix(path)
    assert back.dtype == np.float32  # parsed straight to what sdae computes in
    np.testing.assert_array_equal(back, np.float32([[1.5, 2.0], [3.0, -0.4]]))


@pytest.mark.parametrize("delimiter", [",", "\t", ";", " ", "   "])
def test_delimiter_sniffing(tmp_path, delimiter):
    rows = [[1.5, 2, 3], [4, 5, 6.25], [7, 8, 9]]
    text = "\n".join(delimiter.join(str(v) for v in row) for row in rows) + "\n"
    path = write_text(tmp_path / "d.txt", text)
    np.testing.assert_array_equal(read_matrix(path), rows)


def test_tab_file_with_header_and_unknown_suffix(tmp_path):
    path = write_text(tmp_path / "d.data", "x y\tz\n1\t2\n3\t4\n")
    np.testing.assert_array_equal(read_matrix(path), [[1, 2], [3, 4]])


def test_one_column_csv_is_2d(tmp_path):
    path = write_text(tmp_path / "c.csv", "value\n1\n2\n3\n")
    back = read_matrix(path)
    assert back.shape == (3, 1)
    np.testing.assert_array_equal(back[:, 0], [1, 2, 3])


def test_one_row_csv_is_2d(tmp_path):
    assert read_matrix(write_text(tmp_path / "r.csv", "1,2,3")).shape == (1, 3)


def test_utf16_text(tmp_path):
    path = write_text(tmp_path / "u.txt", "a\tb\n1\t2\n", encoding="utf-16")
    np.testing.assert_array_equal(read_matrix(path), [[1, 2]])


def test_large_csv_round_trips_exactly(tmp_path):
    """Big enough to go through the chunked writer and numpy's fast parser (speed is for bench/)."""
    values = np.random.default_rng(0).standard_normal((100_000, 50)).astype(np.float32)
    path = str(tmp_path / "big.csv")
    write_matrix(path, values)
    back = read_matrix(path)
    np.testing.assert_array_equal(back.astype(np.float32), values)


# ------------------------------------------------------------- read errors

def error_of(path, **kwargs):
    with pytest.raises(DataError) as info:
        read_matrix(path, **kwargs)
    return str(info.value)


def test_data_error_is_sdae_error():
    assert issubclass(DataError, SdaeError)


def test_missing_file(tmp_path):
    path = str(tmp_path / "data.npy")
    assert error_of(path) == f"{path}: no such file"


def test_directory(tmp_path):
    assert "is a directory, expected a file" in error_of(str(tmp_path))


def test_permission_denied(tmp_path, monkeypatch):
    path = tmp_path / "secret.csv"
    path.write_text("1,2\n")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(data, "open", refuse, raising=False)  # works even as root
    assert error_of(str(path)) == f"{path}: permission denied"


def test_non_numeric_cell_names_line_column_and_header(tmp_path):
    lines = ["id,weight,age"] + [f"{i},{i}.5,{i}" for i in range(5)] + ["9,1,abc", "1,2,3"]
    path = write_text(tmp_path / "data.csv", "\n".join(lines) + "\n")
    assert error_of(path) == f"{path}: line 7, column 3 (\"age\"): 'abc' is not a number"


def test_non_numeric_cell_without_header(tmp_path):
    path = write_text(tmp_path / "data.csv", "1,2\n3,x\n")
    assert error_of(path) == f"{path}: line 2, column 2: 'x' is not a number"


def test_empty_cell(tmp_path):
    path = write_text(tmp_path / "data.csv", "1,2\n3,\n")
    assert "line 2, column 2: empty cell" in error_of(path)


def test_blank_lines_keep_line_numbers(tmp_path):
    path = write_text(tmp_path / "data.csv", "1,2\n\n3,4\n\n5,oops\n")
    assert "line 5, column 2" in error_of(path)


def test_ragged_row(tmp_path):
    path = write_text(tmp_path / "data.csv", "1,2,3,4\n1,2,3,4\n1,2,3,4\n1,2,3,4\n1,2,3\n")
    assert error_of(path) == f"{path}: line 5 has 3 fields, expected 4"


def test_ragged_row_against_header(tmp_path):
    path = write_text(tmp_path / "data.csv", "a,b,c\n1,2\n3,4\n")
    assert error_of(path) == f"{path}: line 2 has 2 fields, expected 3"


def test_header_only(tmp_path):
    path = write_text(tmp_path / "data.csv", "a,b,c\n")
    assert error_of(path).startswith(f"{path}: no data rows")


@pytest.mark.parametrize("text", ["", "\n\n", "\ufeff"])
def test_empty_file(tmp_path, text):
    path = write_text(tmp_path / "data.csv", text)
    assert error_of(path).startswith(f"{path}: no data rows")


def test_empty_stdin():
    assert error_of("-", stdin=io.BytesIO(b"")).startswith("<stdin>: no data rows")


def test_stdin_errors_are_named_stdin():
    assert error_of("-", stdin=io.BytesIO(b"1,2\n3,z\n")) == \
        "<stdin>: line 2, column 2: 'z' is not a number"


def test_binary_garbage_as_text(tmp_path):
    path = tmp_path / "g.csv"
    path.write_bytes(b"\x01\x00\x02\x00" * 10)
    assert "binary data" in error_of(str(path))


def save(tmp_path, name, array, **kwargs):
    path = tmp_path / name
    np.save(path, array, **kwargs)
    return str(path)


def test_1d_array(tmp_path):
    message = error_of(save(tmp_path, "v.npy", np.zeros(5)))
    assert "(5,)" in message and "one row per sample" in message


def test_3d_array(tmp_path):
    assert "(2, 3, 4)" in error_of(save(tmp_path, "t.npy", np.zeros((2, 3, 4))))


def test_zero_rows_and_columns(tmp_path):
    assert "no rows" in error_of(save(tmp_path, "r.npy", np.zeros((0, 3), np.float32)))
    assert "no columns" in error_of(save(tmp_path, "c.npy", np.zeros((3, 0), np.float32)))


def test_object_npy_is_refused(tmp_path):
    path = save(tmp_path, "o.npy", np.array([[1, None]], dtype=object), allow_pickle=True)
    assert "pickled" in error_of(path)
    with open(path, "rb") as f:
        assert "pickled" in error_of("-", stdin=io.BytesIO(f.read()))


def test_object_npz_is_refused(tmp_path):
    np.savez(tmp_path / "o.npz", a=np.array([[1, None]], dtype=object))
    assert "pickled" in error_of(str(tmp_path / "o.npz"))


def test_complex_and_string_dtypes(tmp_path):
    message = error_of(save(tmp_path, "c.npy", np.zeros((2, 2), np.complex64)))
    assert "complex64" in message and "dtype" in message
    message = error_of(save(tmp_path, "s.npy", np.array([["a", "b"]])))
    assert "<U1" in message
    structured = np.zeros((2, 2), dtype=[("x", "f4"), ("y", "i4")])
    assert "unsupported dtype" in error_of(save(tmp_path, "st.npy", structured))


def test_corrupt_npy(tmp_path):
    good = io.BytesIO()
    np.save(good, np.zeros((100, 5)))
    truncated = tmp_path / "x.npy"
    truncated.write_bytes(good.getvalue()[:300])
    assert error_of(str(truncated)).startswith(f"{truncated}: not a valid NPY file (")
    broken_header = tmp_path / "h.npy"
    broken_header.write_bytes(good.getvalue()[:40])
    assert error_of(str(broken_header)).startswith(f"{broken_header}: not a valid NPY file (")
    not_npy = tmp_path / "n.npy"
    not_npy.write_bytes(b"hello, world\n")
    assert error_of(str(not_npy)).startswith(f"{not_npy}: not a valid NPY file (")
    assert error_of("-", stdin=io.BytesIO(good.getvalue()[:300])).startswith(
        "<stdin>: not a valid NPY file (")


def test_corrupt_npz(tmp_path):
    path = tmp_path / "x.npz"
    path.write_bytes(b"not a zip at all")
    assert error_of(str(path)).startswith(f"{path}: not a valid NPZ file (")
    np.savez(path, a=np.zeros((3, 3)))
    path.write_bytes(path.read_bytes()[:50])
    assert error_of(str(path)).startswith(f"{path}: not a valid NPZ file (")


def test_npz_with_two_arrays_needs_key(tmp_path):
    path = str(tmp_path / "two.npz")
    np.savez(path, alpha=np.zeros((2, 2)), beta=np.ones((2, 2)))
    message = error_of(path)
    assert "alpha" in message and "beta" in message and "key" in message
    message = error_of(path, key="gamma")
    assert "'gamma'" in message and "alpha" in message and "beta" in message


def test_key_for_non_npz(tmp_path, matrix):
    path = str(tmp_path / "m.npy")
    write_matrix(path, matrix)
    assert "key" in error_of(path, key="data")
