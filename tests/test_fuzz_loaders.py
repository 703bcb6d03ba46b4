"""Random bytes and malformed CSV/NPY/NPZ fed to every loader: only our own error type comes out."""
import io
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from malformed import VALID_NPY, csv_cells, mangled, valid_npz

from sdae_cli.data import read_matrix
from sdae_cli.errors import SdaeError
from sdae_cli.labels import read_labels
from sdae_cli.model import SDAE

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def load_all(path, raw: bytes) -> None:
    path.write_bytes(raw)
    for load in (lambda: read_matrix(str(path)), lambda: read_labels(str(path)), lambda: SDAE.load(str(path))):
        try:
            load()
        except SdaeError:
            pass


@SETTINGS
@given(raw=st.binary(max_size=600), suffix=st.sampled_from([".npy", ".npz", ".csv", ".txt", ".dat"]))
def test_random_bytes(tmp_path, raw, suffix):
    load_all(tmp_path / f"x{suffix}", raw)


@SETTINGS
@given(rows=st.lists(st.lists(csv_cells, max_size=6), max_size=8),
       delimiter=st.sampled_from([",", "\t", ";", " ", "|"]), line_end=st.sampled_from(["\n", "\r\n", "\r"]))
def test_malformed_csv(tmp_path, rows, delimiter, line_end):
    text = line_end.join(delimiter.join(str(c) for c in row) for row in rows)
    load_all(tmp_path / "x.csv", text.encode("utf-8", errors="replace"))


@SETTINGS
@given(cut=st.integers(0, 400), flips=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=4))
def test_malformed_npy(tmp_path, cut, flips):
    load_all(tmp_path / "x.npy", mangled(VALID_NPY, cut, flips))


@SETTINGS
@given(cut=st.integers(0, 2000), flips=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=4))
def test_malformed_npz(tmp_path, cut, flips):
    load_all(tmp_path / "x.npz", mangled(valid_npz(), cut, flips))


def test_the_fuzzer_reaches_the_parsers(tmp_path):
    """A sanity check on the harness: well-formed inputs load."""
    (tmp_path / "ok.npy").write_bytes(VALID_NPY)
    assert read_matrix(str(tmp_path / "ok.npy")).shape == (3, 4)
    with zipfile.ZipFile(io.BytesIO(valid_npz())) as zf:
        assert sorted(zf.namelist()) == ["a.npy", "meta.npy"]
