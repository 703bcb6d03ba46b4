"""Files of every kind a user can hand sdae by mistake, as hypothesis strategies: random bytes,
text that is almost CSV, and NPY and NPZ files (data and models) cut short or with bytes
overwritten. Shared by the loaders' fuzzer and the command line's."""
import io

import numpy as np
from hypothesis import strategies as st


def npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def mangled(data: bytes, cut: int, flips: list[tuple[int, int]]) -> bytes:
    """data truncated at cut, with some bytes overwritten."""
    out = bytearray(data[: max(1, cut % (len(data) + 1))])
    for position, value in flips:
        if out:
            out[position % len(out)] = value
    return bytes(out)


VALID_NPY = npy_bytes(np.arange(12, dtype=np.float32).reshape(3, 4))


def valid_npz() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, a=np.ones((2, 2)), meta=np.array('{"format": "sdae-model", "format_version": 1}'))
    return buffer.getvalue()


csv_cells = st.one_of(st.floats(allow_nan=True), st.integers(), st.text(max_size=5),
                      st.sampled_from(['"1"', "", " ", "1e999", "--1", "0x10", "\ufeff2"]))


@st.composite
def csv_text(draw) -> bytes:
    rows = draw(st.lists(st.lists(csv_cells, max_size=6), max_size=8))
    delimiter = draw(st.sampled_from([",", "\t", ";", " ", "|"]))
    line_end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = line_end.join(delimiter.join(str(c) for c in row) for row in rows)
    return text.encode("utf-8", errors="replace")


def damaged(original: bytes, longest: int):
    """`original` cut short and with up to four bytes overwritten."""
    return st.builds(mangled, st.just(original), st.integers(0, longest),
                     st.lists(st.tuples(st.integers(0, longest), st.integers(0, 255)), max_size=4))


def any_file(models: list[bytes] = ()):
    """The bytes of a file of any of the kinds above (models: whole model files to damage too)."""
    kinds = [st.binary(max_size=600), csv_text(), damaged(VALID_NPY, 400), damaged(valid_npz(), 2000)]
    kinds += [damaged(model, len(model)) for model in models]
    return st.one_of(kinds)
