"""Type stub of sdae's native core (src/cpp/bindings.cpp).

Arrays are float32 and C-contiguous, and are taken as views: anything that would need a copy
(another dtype, Fortran order, a non-contiguous slice) raises TypeError. Outputs and parameter
vectors are written in place. Shapes: theta (spec.size,), X (rows, n_in), H (rows, n_hidden).
"""
import enum

import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]

__version__: str
gemm_backend: str  # "openblas" or "eigen"

class CoreError(ValueError):
    """Any C++ exception but std::bad_alloc (which arrives as MemoryError): bad shapes or
    settings (std::invalid_argument), or what a parallel region caught and rethrew."""

def _raise_from_threads(kind: str) -> None:
    """For the tests: throws kind (bad_alloc, invalid_argument, logic_error, or any other text as
    a runtime_error) from inside a parallel region."""

# For the tests (src/cpp/sdae/gemm.hpp): the product kernels, the dispatcher and its limits.
_kernel_limits: dict  # small_batch, times_rows, update_rows, short_batch (ints); short_tiles (bool)

def _choose_kernel(m: int, n: int, k: int, transpose_a: bool, transpose_b: bool, alpha: float, beta: float,
                   step_batch: int = 0) -> str:
    """The kernel gemm runs for one thread's block C (m, n) = alpha op(A) op(B) + beta C:
    eigen, blas, small_times, small_times_transpose, small_rank_update, short_times,
    short_times_transpose or short_rank_update. step_batch: a dA step's batch size, else 0."""

def _run_kernel(kernel: str, C: F32, A: F32, transpose_a: bool, B: F32, transpose_b: bool, alpha: float,
                beta: float, corner: tuple[int, int] = (0, 0)) -> None:
    """C[r:r+m, c:c+n] = alpha op(A) op(B) + beta C[...] with (r, c) = corner, on the kernel named,
    on one thread; CoreError when that kernel does not compute this form or is not in this build."""

def _gemm(C: F32, A: F32, transpose_a: bool, B: F32, transpose_b: bool, alpha: float, beta: float,
          num_threads: int = 1, step_batch: int = 0) -> None:
    """C = alpha op(A) op(B) + beta C through the core's one entry for products."""

class Activation(enum.Enum):
    sigmoid = ...
    tanh = ...
    relu = ...
    linear = ...

class Loss(enum.Enum):
    cross_entropy = ...
    squared_error = ...

class NoiseType(enum.Enum):
    none = ...
    masking = ...
    gaussian = ...
    salt_pepper = ...

class Optimizer(enum.Enum):
    sgd = ...
    momentum = ...
    adam = ...

class OutputLoss(enum.Enum):
    softmax_nll = ...
    cross_entropy = ...
    squared_error = ...

class LayerSpec:
    n_in: int
    n_hidden: int
    tied: bool
    encoder: Activation
    decoder: Activation
    size: int
    def __init__(self, n_in: int, n_hidden: int, tied: bool = True, encoder: Activation = ...,
                 decoder: Activation = ...) -> None: ...
    def layout(self) -> list[tuple[str, int, tuple[int, ...]]]: ...

class TrainSpec:
    batch_size: int
    seed: int
    num_threads: int
    def __init__(self, *, loss: Loss = ..., noise: NoiseType = ..., noise_level: float = 0.0,
                 noise_low: float = 0.0, noise_high: float = 1.0, dropout: float = 0.0,
                 lr_factors: list[float] = ..., optimizer: Optimizer = ..., lr: float = 0.1, momentum: float = 0.9,
                 beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 batch_size: int = 32, seed: int = 0, num_threads: int = 0) -> None: ...

class StackSpec:
    size: int
    n_in: int
    n_out: int
    def __init__(self, layers: list[tuple[int, int, Activation]], loss: OutputLoss) -> None: ...
    def layout(self) -> list[tuple[str, int, tuple[int, ...]]]: ...

def dropout_keeps(seed: int, epoch: int, row: int, layer: int, n: int, dropout: float) -> list[bool]: ...
def init_params(spec: LayerSpec, theta: F32, seed: int) -> None: ...
def encode(spec: LayerSpec, theta: F32, X: F32, H: F32, num_threads: int = 0) -> None: ...
def decode(spec: LayerSpec, theta: F32, H: F32, Z: F32, num_threads: int = 0) -> None: ...
def corrupt(X: F32, out: F32, noise: NoiseType, level: float, low: float = 0.0, high: float = 1.0, seed: int = 0,
            epoch: int = 0, first_row: int = 0, num_threads: int = 0) -> None: ...
def loss_and_gradient(spec: LayerSpec, loss: Loss, theta: F32, X: F32, Xt: F32, grad: F32,
                      num_threads: int = 0) -> float: ...
def train_step(spec: LayerSpec, train: TrainSpec, theta: F32, m: F32, v: F32, step: int, X: F32, Xt: F32) -> float: ...
def train_epoch(spec: LayerSpec, train: TrainSpec, theta: F32, m: F32, v: F32, step: int, X: F32,
                epoch: int) -> tuple[float, int]: ...
def reconstruction_loss(spec: LayerSpec, train: TrainSpec, theta: F32, X: F32) -> float: ...
def shuffled_rows(n: int, seed: int, epoch: int) -> list[int]: ...
def online_sgd_applies(spec: LayerSpec, train: TrainSpec) -> bool: ...
def stack_forward(spec: StackSpec, theta: F32, X: F32, out: F32, num_threads: int = 0) -> None: ...
def stack_loss_and_gradient(spec: StackSpec, theta: F32, X: F32, Y: F32, grad: F32, num_threads: int = 0) -> float: ...
def stack_row_loss(spec: StackSpec, theta: F32, X: F32, Y: F32, row_loss: F32, num_threads: int = 0) -> None: ...
def stack_train_epoch(spec: StackSpec, train: TrainSpec, theta: F32, m: F32, v: F32, step: int, X: F32,
                      Y: F32, epoch: int) -> tuple[float, int]: ...

# --- text in and out
def parse_text(data: bytes | bytearray | memoryview, delimiter: str, n_fields: int,
               num_threads: int = 0) -> tuple[F32, NDArray[np.int64], int]:
    """The non-blank lines of data as (lines, n_fields) float32, the lines refused as (k, 4) int64
    rows (row, line number from 1, first byte, end byte), and the number of lines (blank ones too).
    delimiter '' splits on whitespace."""
def format_text(X: NDArray[np.float32] | NDArray[np.float64], delimiter: str, precision: int = 0,
                num_threads: int = 0) -> bytes:
    """Rows of X as lines: shortest round-trip text (precision 0), or %.<precision>g."""
