// The only bridge between Python and the core: array views in, GIL released, errors mapped.
// Every C++ exception arrives as one Python type the CLI can tell from its own bugs:
// std::bad_alloc as MemoryError, anything else (std::invalid_argument for bad shapes and
// settings, whatever a parallel region caught and rethrew) as _core.CoreError, a ValueError.
#include <pybind11/eigen.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <string>

#include "sdae/dae_layer.hpp"
#include "sdae/gemm.hpp"
#include "sdae/interrupt.hpp"
#include "sdae/noise.hpp"
#include "sdae/online_sgd.hpp"
#include "sdae/short_batch.hpp"
#include "sdae/stack.hpp"
#include "sdae/text_format.hpp"
#include "sdae/text_parse.hpp"
#include "sdae/threads.hpp"

namespace py = pybind11;
using namespace sdae;

namespace {

// Arrays arrive as views (float32, C-contiguous); noconvert() refuses anything that would need a copy.
using InMatrix = Eigen::Ref<const RowMatrixF>;
using OutMatrix = Eigen::Ref<RowMatrixF>;
using InVector = Eigen::Ref<const VectorF>;
using OutVector = Eigen::Ref<VectorF>;

OptimizerState make_state(OutVector m, OutVector v, std::int64_t step) { return OptimizerState{m, v, step}; }

// Lets Ctrl-C and SIGTERM reach a long epoch: Python's C-level handler only flags the signal, and
// its Python handler (KeyboardInterrupt) runs when we ask, holding the GIL, between minibatches.
bool python_signal_pending() {
  py::gil_scoped_acquire gil;
  return PyErr_CheckSignals() != 0;
}

// Runs a training call with the GIL released; an interruption comes back as the Python
// exception the signal handler raised.
template <class F>
auto interruptible(F&& run) {
  try {
    py::gil_scoped_release nogil;
    return run();
  } catch (const Interrupted&) {
    throw py::error_already_set();
  }
}

// A text delimiter from Python: one character, or "" for runs of whitespace ('\0' below).
char delimiter_of(const std::string& delimiter) {
  if (delimiter.empty()) return '\0';
  if (delimiter.size() != 1 || delimiter[0] == '\n' || delimiter[0] == '\r' || delimiter[0] == '\0')
    throw std::invalid_argument("delimiter: expected one character other than a line end, or '' for whitespace");
  return delimiter[0];
}

// Rows of a float32 or float64 matrix as text, straight into one bytes object.
template <class T>
py::bytes format_text(py::array_t<T, py::array::c_style> X, const std::string& delimiter, int precision,
                      int num_threads) {
  if (X.ndim() != 2) throw std::invalid_argument("X: expected a 2-D matrix");
  const char d = delimiter_of(delimiter);
  if (d == '\0') throw std::invalid_argument("delimiter: give the character that separates the cells");
  const T* data = X.data();
  const Index rows = X.shape(0), cols = X.shape(1);
  FormattedText text;
  {
    py::gil_scoped_release nogil;
    text = format_rows(data, rows, cols, d, precision, num_threads);
  }
  py::bytes out(nullptr, text.size());
  char* target = PyBytes_AsString(out.ptr());
  {
    py::gil_scoped_release nogil;
    text.copy_to(target);
  }
  return out;
}

// For the tests: throws `kind` from thread 1 of a parallel region, through the same capture and
// rethrow every parallel loop of the core uses, to check what reaches Python.
void raise_from_threads(const std::string& kind) {
  ParallelErrors errors;
#pragma omp parallel num_threads(2)
  errors.run([&] {
    if (omp_get_thread_num() != omp_get_num_threads() - 1) return;
    if (kind == "bad_alloc") throw std::bad_alloc();
    if (kind == "invalid_argument") throw std::invalid_argument("X: expected 3 columns, got 4");
    if (kind == "logic_error") throw std::logic_error("an internal check failed");
    throw std::runtime_error(kind);
  });
  errors.rethrow();
}

Kernel kernel_named(const std::string& name) {
  for (Kernel k : {Kernel::eigen, Kernel::blas, Kernel::small_times, Kernel::small_times_transpose,
                   Kernel::small_rank_update, Kernel::short_times, Kernel::short_times_transpose,
                   Kernel::short_rank_update})
    if (name == kernel_name(k)) return k;
  throw std::invalid_argument("no kernel named " + name);
}

// C (m, n) = op(A) (m, k) op(B) (k, n), or a ValueError: the kernels trust their shapes.
void check_product(const MatrixRef& C, const InMatrix& A, bool ta, const InMatrix& B, bool tb) {
  const Index k = ta ? A.rows() : A.cols();
  if ((ta ? A.cols() : A.rows()) != C.rows() || (tb ? B.rows() : B.cols()) != C.cols() ||
      (tb ? B.cols() : B.rows()) != k)
    throw std::invalid_argument("C, op(A), op(B): expected (m, n), (m, k), (k, n)");
}

// For the tests: the kernels and their dispatcher on arrays, and the limits between them.
void define_kernel_hooks(py::module_& mod) {
  mod.def("_choose_kernel", [](Index m, Index n, Index k, bool ta, bool tb, float alpha, float beta,
                               Index step_batch) {
    return std::string(kernel_name(choose_kernel(m, n, k, ta, tb, alpha, beta, step_batch)));
  }, py::arg("m"), py::arg("n"), py::arg("k"), py::arg("transpose_a"), py::arg("transpose_b"), py::arg("alpha"),
     py::arg("beta"), py::arg("step_batch") = 0,
     "For the tests: the kernel gemm runs for one thread's block C (m, n) = alpha op(A) op(B) + beta C.");
  mod.def("_run_kernel", [](const std::string& kernel, OutMatrix C, InMatrix A, bool ta, InMatrix B, bool tb,
                            float alpha, float beta, std::array<Index, 2> corner) {
    const Kernel k = kernel_named(kernel);
    const Index m = ta ? A.cols() : A.rows(), n = tb ? B.rows() : B.cols();
    if (corner[0] < 0 || corner[1] < 0 || corner[0] + m > C.rows() || corner[1] + n > C.cols())
      throw std::invalid_argument("C: the product does not fit from this corner");
    MatrixRef Cw = C.block(corner[0], corner[1], m, n);
    check_product(Cw, A, ta, B, tb);
    py::gil_scoped_release nogil;
    run_kernel(k, Cw, A, ta, B, tb, alpha, beta);
  }, py::arg("kernel"), py::arg("C").noconvert(), py::arg("A").noconvert(), py::arg("transpose_a"),
     py::arg("B").noconvert(), py::arg("transpose_b"), py::arg("alpha"), py::arg("beta"),
     py::arg("corner") = std::array<Index, 2>{0, 0},
     "For the tests: C[r:r+m, c:c+n] = alpha op(A) op(B) + beta C[...] on the kernel named, on one "
     "thread, with (r, c) = corner (a window of C: a row stride other than its width).");
  mod.def("_gemm", [](OutMatrix C, InMatrix A, bool ta, InMatrix B, bool tb, float alpha, float beta,
                      int num_threads, Index step_batch) {
    check_product(C, A, ta, B, tb);
    py::gil_scoped_release nogil;
    gemm(C, A, ta, B, tb, alpha, beta, num_threads, step_batch);
  }, py::arg("C").noconvert(), py::arg("A").noconvert(), py::arg("transpose_a"), py::arg("B").noconvert(),
     py::arg("transpose_b"), py::arg("alpha"), py::arg("beta"), py::arg("num_threads") = 1,
     py::arg("step_batch") = 0, "For the tests: the one entry for products, as the core calls it.");
  py::dict limits;
  limits["small_batch"] = kSmallBatch;
  limits["times_rows"] = kTimesRows;
  limits["update_rows"] = kUpdateRows;
  limits["short_batch"] = kShortBatch;
  limits["short_tiles"] = have_short_tiles();
  mod.attr("_kernel_limits") = limits;
}

}  // namespace

PYBIND11_MODULE(_core, mod) {
  mod.doc() = "sdae's native core: denoising autoencoder layers in C++/Eigen/OpenMP";
  mod.attr("__version__") = SDAE_VERSION;

  PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<py::object> core_error;
  core_error.call_once_and_store_result(
      [&] { return py::object(py::exception<std::exception>(mod, "CoreError", PyExc_ValueError)); });
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const py::builtin_exception&) {
      throw;  // pybind11's own (a failed cast...) keep their Python types
    } catch (const py::error_already_set&) {
      throw;  // a Python exception on its way back, such as KeyboardInterrupt
    } catch (const std::bad_alloc&) {
      PyErr_SetString(PyExc_MemoryError, "std::bad_alloc: the core could not allocate memory");
    } catch (const std::exception& e) {
      PyErr_SetString(core_error.get_stored().ptr(), e.what());
    }
  });
  mod.def("_raise_from_threads", &raise_from_threads, py::arg("kind"),
          "For the tests: throw bad_alloc, invalid_argument, logic_error or any other message as a "
          "runtime_error from inside a parallel region.");

  py::enum_<Activation>(mod, "Activation")
      .value("sigmoid", Activation::sigmoid)
      .value("tanh", Activation::tanh)
      .value("relu", Activation::relu)
      .value("linear", Activation::linear);
  py::enum_<Loss>(mod, "Loss").value("cross_entropy", Loss::cross_entropy).value("squared_error", Loss::squared_error);
  py::enum_<NoiseType>(mod, "NoiseType")
      .value("none", NoiseType::none)
      .value("masking", NoiseType::masking)
      .value("gaussian", NoiseType::gaussian)
      .value("salt_pepper", NoiseType::salt_pepper);
  py::enum_<Optimizer>(mod, "Optimizer")
      .value("sgd", Optimizer::sgd)
      .value("momentum", Optimizer::momentum)
      .value("adam", Optimizer::adam);

  py::class_<LayerSpec>(mod, "LayerSpec")
      .def(py::init([](Index n_in, Index n_hidden, bool tied, Activation encoder, Activation decoder) {
             LayerSpec s{n_in, n_hidden, tied, encoder, decoder};
             validate(s);
             return s;
           }),
           py::arg("n_in"), py::arg("n_hidden"), py::arg("tied") = true, py::arg("encoder") = Activation::sigmoid,
           py::arg("decoder") = Activation::sigmoid)
      .def_readonly("n_in", &LayerSpec::n_in)
      .def_readonly("n_hidden", &LayerSpec::n_hidden)
      .def_readonly("tied", &LayerSpec::tied)
      .def_readonly("encoder", &LayerSpec::encoder)
      .def_readonly("decoder", &LayerSpec::decoder)
      .def_property_readonly("size", &LayerSpec::size)
      .def("layout", [](const LayerSpec& s) {
        // (name, offset, shape) of each block of theta: the one definition of the layout.
        py::list out;
        out.append(py::make_tuple("W", 0, py::make_tuple(s.n_in, s.n_hidden)));
        out.append(py::make_tuple("b", s.offset_b(), py::make_tuple(s.n_hidden)));
        out.append(py::make_tuple("c", s.offset_c(), py::make_tuple(s.n_in)));
        if (!s.tied) out.append(py::make_tuple("Wd", s.offset_Wd(), py::make_tuple(s.n_hidden, s.n_in)));
        return out;
      });

  py::class_<TrainSpec>(mod, "TrainSpec")
      .def(py::init([](Loss loss, NoiseType noise, float noise_level, float noise_low, float noise_high,
                       float dropout, Optimizer optimizer, float lr, float momentum, float beta1, float beta2,
                       float eps, Index batch_size, std::uint64_t seed, int num_threads) {
             TrainSpec t;
             t.loss = loss;
             t.noise = NoiseSpec{noise, noise_level, noise_low, noise_high};
             t.dropout = dropout;
             t.optimizer = OptimizerSpec{optimizer, lr, momentum, beta1, beta2, eps};
             t.batch_size = batch_size;
             t.seed = seed;
             t.num_threads = num_threads;
             validate(t);
             return t;
           }),
           py::kw_only(), py::arg("loss") = Loss::cross_entropy, py::arg("noise") = NoiseType::masking,
           py::arg("noise_level") = 0.0f, py::arg("noise_low") = 0.0f, py::arg("noise_high") = 1.0f,
           py::arg("dropout") = 0.0f, py::arg("optimizer") = Optimizer::sgd, py::arg("lr") = 0.1f,
           py::arg("momentum") = 0.9f, py::arg("beta1") = 0.9f, py::arg("beta2") = 0.999f, py::arg("eps") = 1e-8f,
           py::arg("batch_size") = 32, py::arg("seed") = 0, py::arg("num_threads") = 0,
           "The settings of a training call: a dA layer's (loss, no dropout) or the stack's (its loss is in "
           "the StackSpec).")
      .def_readonly("batch_size", &TrainSpec::batch_size)
      .def_readonly("seed", &TrainSpec::seed)
      .def_readonly("num_threads", &TrainSpec::num_threads);

  mod.def("init_params", [](const LayerSpec& spec, OutVector theta, std::uint64_t seed) {
    py::gil_scoped_release nogil;
    init_params(spec, theta, seed);
  }, py::arg("spec"), py::arg("theta").noconvert(), py::arg("seed"));

  mod.def("encode", [](const LayerSpec& spec, InVector theta, InMatrix X, OutMatrix H, int num_threads) {
    py::gil_scoped_release nogil;
    encode(spec, theta, X, H, num_threads);
  }, py::arg("spec"), py::arg("theta").noconvert(), py::arg("X").noconvert(), py::arg("H").noconvert(),
     py::arg("num_threads") = 0, "H = enc(X W + b). X (rows, n_in), H (rows, n_hidden), written in place.");

  mod.def("decode", [](const LayerSpec& spec, InVector theta, InMatrix H, OutMatrix Z, int num_threads) {
    py::gil_scoped_release nogil;
    decode(spec, theta, H, Z, num_threads);
  }, py::arg("spec"), py::arg("theta").noconvert(), py::arg("H").noconvert(), py::arg("Z").noconvert(),
     py::arg("num_threads") = 0, "Z = dec(H W' + c). H (rows, n_hidden), Z (rows, n_in), written in place.");

  mod.def("corrupt", [](InMatrix X, OutMatrix out, NoiseType type, float level, float low, float high,
                        std::uint64_t seed, std::uint64_t epoch, std::uint64_t first_row, int num_threads) {
    py::gil_scoped_release nogil;
    corrupt(X, out, NoiseSpec{type, level, low, high}, seed, epoch, first_row, num_threads);
  }, py::arg("X").noconvert(), py::arg("out").noconvert(), py::arg("noise"), py::arg("level"),
     py::arg("low") = 0.0f, py::arg("high") = 1.0f, py::arg("seed") = 0, py::arg("epoch") = 0,
     py::arg("first_row") = 0, py::arg("num_threads") = 0,
     "The corruption train_epoch applies to rows first_row.. of X in `epoch`, written to out.");

  mod.def("loss_and_gradient", [](const LayerSpec& spec, Loss loss, InVector theta, InMatrix X, InMatrix Xt,
                                  OutVector grad, int num_threads) {
    py::gil_scoped_release nogil;
    return loss_and_gradient(spec, loss, theta, X, Xt, grad, num_threads);
  }, py::arg("spec"), py::arg("loss"), py::arg("theta").noconvert(), py::arg("X").noconvert(),
     py::arg("Xt").noconvert(), py::arg("grad").noconvert(), py::arg("num_threads") = 0,
     "Mean loss of reconstructing X from Xt; its gradient written to grad.");

  mod.def("train_step", [](const LayerSpec& spec, const TrainSpec& train, OutVector theta, OutVector m, OutVector v,
                           std::int64_t step, InMatrix X, InMatrix Xt) {
    py::gil_scoped_release nogil;
    OptimizerState state = make_state(m, v, step);
    return train_step(spec, train, theta, state, X, Xt);
  }, py::arg("spec"), py::arg("train"), py::arg("theta").noconvert(), py::arg("m").noconvert(),
     py::arg("v").noconvert(), py::arg("step"), py::arg("X").noconvert(), py::arg("Xt").noconvert(),
     "One update on a given corruption (update number step + 1). Returns the batch loss.");

  mod.def("train_epoch", [](const LayerSpec& spec, TrainSpec train, OutVector theta, OutVector m,
                            OutVector v, std::int64_t step, InMatrix X, std::uint64_t epoch) {
    train.should_stop = python_signal_pending;
    return interruptible([&] {
      OptimizerState state = make_state(m, v, step);
      const double loss = train_epoch(spec, train, theta, state, X, epoch);
      return std::make_pair(loss, state.step);
    });
  }, py::arg("spec"), py::arg("train"), py::arg("theta").noconvert(), py::arg("m").noconvert(),
     py::arg("v").noconvert(), py::arg("step"), py::arg("X").noconvert(), py::arg("epoch"),
     "One epoch of minibatch training. Returns (mean loss per row, updates made so far).");

  mod.def("reconstruction_loss", [](const LayerSpec& spec, const TrainSpec& train, InVector theta, InMatrix X) {
    py::gil_scoped_release nogil;
    return reconstruction_loss(spec, train, theta, X);
  }, py::arg("spec"), py::arg("train"), py::arg("theta").noconvert(), py::arg("X").noconvert(),
     "Mean per-row loss of reconstructing X from a fixed corruption of it (validation).");

  mod.def("shuffled_rows", &shuffled_rows, py::arg("n"), py::arg("seed"), py::arg("epoch"),
          "The order train_epoch visits n rows in `epoch`.");
  mod.def("online_sgd_applies", &online_sgd_applies, py::arg("spec"), py::arg("train"),
          "Whether train_epoch takes the fused one-sample path (batch 1, tied, plain SGD).");

  // --- the whole stack, for fine-tuning -------------------------------------------------------
  py::enum_<OutputLoss>(mod, "OutputLoss")
      .value("softmax_nll", OutputLoss::softmax_nll)
      .value("cross_entropy", OutputLoss::cross_entropy)
      .value("squared_error", OutputLoss::squared_error);

  py::class_<StackSpec>(mod, "StackSpec")
      .def(py::init([](const std::vector<std::tuple<Index, Index, Activation>>& layers, OutputLoss loss) {
             StackSpec s;
             for (const auto& [n_in, n_out, act] : layers) s.layers.push_back(DenseSpec{n_in, n_out, act});
             s.loss = loss;
             validate(s);
             return s;
           }),
           py::arg("layers"), py::arg("loss"), "layers: (n_in, n_out, activation) bottom to top.")
      .def_property_readonly("size", &StackSpec::size)
      .def_property_readonly("n_in", &StackSpec::n_in)
      .def_property_readonly("n_out", &StackSpec::n_out)
      .def("layout", [](const StackSpec& s) {
        // (name, offset, shape) of each block of theta, bottom layer first: M0, bias0, M1, ...
        py::list out;
        for (size_t j = 0; j < s.layers.size(); ++j) {
          const DenseSpec& d = s.layers[j];
          const Index at = s.weight_offset(j);
          out.append(py::make_tuple("M" + std::to_string(j), at, py::make_tuple(d.n_in, d.n_out)));
          out.append(py::make_tuple("bias" + std::to_string(j), at + d.n_in * d.n_out, py::make_tuple(d.n_out)));
        }
        return out;
      });

  mod.def("dropout_keeps", [](std::uint64_t seed, std::uint64_t epoch, std::uint64_t row, Index layer, Index n,
                              float dropout) {
    std::vector<bool> keep(static_cast<size_t>(n));
    const std::uint64_t key = dropout_key(row_noise_key(seed, epoch, row), layer);
    for (Index u = 0; u < n; ++u) keep[static_cast<size_t>(u)] = dropout_keeps(key, u, dropout);
    return keep;
  }, py::arg("seed"), py::arg("epoch"), py::arg("row"), py::arg("layer"), py::arg("n"), py::arg("dropout"),
     "Which of the n units of hidden layer `layer` fine-tuning keeps for sample `row` in `epoch`.");

  mod.def("stack_forward", [](const StackSpec& spec, InVector theta, InMatrix X, OutMatrix out, int num_threads) {
    py::gil_scoped_release nogil;
    stack_forward(spec, theta, X, out, num_threads);
  }, py::arg("spec"), py::arg("theta").noconvert(), py::arg("X").noconvert(), py::arg("out").noconvert(),
     py::arg("num_threads") = 0, "The stack's output for X (softmax probabilities under softmax_nll).");

  mod.def("stack_loss_and_gradient", [](const StackSpec& spec, InVector theta, InMatrix X, InMatrix Y,
                                        OutVector grad, int num_threads) {
    py::gil_scoped_release nogil;
    return stack_loss_and_gradient(spec, theta, X, Y, grad, num_threads);
  }, py::arg("spec"), py::arg("theta").noconvert(), py::arg("X").noconvert(), py::arg("Y").noconvert(),
     py::arg("grad").noconvert(), py::arg("num_threads") = 0);

  mod.def("stack_row_loss", [](const StackSpec& spec, InVector theta, InMatrix X, InMatrix Y, OutVector row_loss,
                               int num_threads) {
    py::gil_scoped_release nogil;
    stack_row_loss(spec, theta, X, Y, row_loss, num_threads);
  }, py::arg("spec"), py::arg("theta").noconvert(), py::arg("X").noconvert(), py::arg("Y").noconvert(),
     py::arg("row_loss").noconvert(), py::arg("num_threads") = 0);

  mod.def("stack_train_epoch", [](const StackSpec& spec, TrainSpec train, OutVector theta, OutVector m,
                                  OutVector v, std::int64_t step, InMatrix X, InMatrix Y, std::uint64_t epoch) {
    train.should_stop = python_signal_pending;
    return interruptible([&] { return stack_train_epoch(spec, train, theta, m, v, step, X, Y, epoch); });
  }, py::arg("spec"), py::arg("train"), py::arg("theta").noconvert(), py::arg("m").noconvert(),
     py::arg("v").noconvert(), py::arg("step"), py::arg("X").noconvert(), py::arg("Y").noconvert(),
     py::arg("epoch"), "One epoch of fine-tuning X -> Y. Returns (mean loss per row, updates so far).");

  // --- text in and out ------------------------------------------------------------------------
  mod.def("parse_text", [](py::buffer data, const std::string& delimiter, Index n_fields, int num_threads) {
    const char d = delimiter_of(delimiter);
    if (n_fields <= 0) throw std::invalid_argument("n_fields: expected at least 1");
    py::buffer_info info = data.request();
    if (info.itemsize != 1 || info.ndim != 1 || (info.size > 1 && info.strides[0] != 1))
      throw std::invalid_argument("data: expected contiguous bytes");
    const std::string_view text(static_cast<const char*>(info.ptr), static_cast<std::size_t>(info.size));
    std::vector<TextLine> lines;
    Index n_lines = 0;
    {
      py::gil_scoped_release nogil;
      lines = index_lines(text, &n_lines);
    }
    py::array_t<float> X({static_cast<py::ssize_t>(lines.size()), static_cast<py::ssize_t>(n_fields)});
    float* out = X.mutable_data();
    std::vector<Index> refused;
    {
      py::gil_scoped_release nogil;
      refused = parse_lines(text, lines, d, n_fields, out, num_threads);
    }
    py::array_t<std::int64_t> where({static_cast<py::ssize_t>(refused.size()), py::ssize_t{4}});
    auto w = where.mutable_unchecked<2>();
    for (std::size_t i = 0; i < refused.size(); ++i) {
      const TextLine& line = lines[static_cast<std::size_t>(refused[i])];
      const auto k = static_cast<py::ssize_t>(i);
      w(k, 0) = refused[i];
      w(k, 1) = line.number;
      w(k, 2) = static_cast<std::int64_t>(line.begin);
      w(k, 3) = static_cast<std::int64_t>(line.end);
    }
    return py::make_tuple(X, where, n_lines);
  }, py::arg("data"), py::arg("delimiter"), py::arg("n_fields"), py::arg("num_threads") = 0,
     "The non-blank lines of data (bytes) as a (lines, n_fields) float32 matrix, the lines it could not "
     "read as an (k, 4) int64 array of (row, line number from 1, first byte, end byte) (their rows are "
     "left unset), and the number of lines, blank ones included. delimiter '' splits on whitespace.");
  mod.def("format_text", &format_text<float>, py::arg("X").noconvert(), py::arg("delimiter"),
          py::arg("precision") = 0, py::arg("num_threads") = 0);
  mod.def("format_text", &format_text<double>, py::arg("X").noconvert(), py::arg("delimiter"),
          py::arg("precision") = 0, py::arg("num_threads") = 0,
          "Rows of X (float32 or float64, C-contiguous) as text lines, as bytes: the shortest text that reads "
          "back to the same value (precision 0), or that many significant digits (%.<precision>g).");

  mod.attr("gemm_backend") = gemm_backend();
  define_kernel_hooks(mod);

}
