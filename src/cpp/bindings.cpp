// The bridge between Python and the core (with bindings_text.cpp, the text codec, and
// bindings_hooks.cpp, the tests' hooks): array views in, GIL released, errors mapped.
// Every C++ exception arrives as one Python type the CLI can tell from its own bugs:
// std::bad_alloc as MemoryError, anything else (std::invalid_argument for bad shapes and
// settings, whatever a parallel region caught and rethrew) as _core.CoreError, a ValueError.
#include "bindings.hpp"

#include <string>

#include "sdae/dae_layer.hpp"
#include "sdae/gemm.hpp"
#include "sdae/interrupt.hpp"
#include "sdae/noise.hpp"
#include "sdae/online_sgd.hpp"
#include "sdae/stack.hpp"
#include "sdae/threads.hpp"

namespace {

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
                       float dropout, std::vector<float> lr_factors, Optimizer optimizer, float lr, float momentum,
                       float beta1, float beta2, float eps, Index batch_size, std::uint64_t seed, int num_threads) {
             TrainSpec t;
             t.loss = loss;
             t.noise = NoiseSpec{noise, noise_level, noise_low, noise_high};
             t.dropout = dropout;
             t.lr_factors = std::move(lr_factors);
             t.optimizer = OptimizerSpec{optimizer, lr, momentum, beta1, beta2, eps};
             t.batch_size = batch_size;
             t.seed = seed;
             t.num_threads = num_threads;
             validate(t);
             return t;
           }),
           py::kw_only(), py::arg("loss") = Loss::cross_entropy, py::arg("noise") = NoiseType::masking,
           py::arg("noise_level") = 0.0f, py::arg("noise_low") = 0.0f, py::arg("noise_high") = 1.0f,
           py::arg("dropout") = 0.0f, py::arg("lr_factors") = std::vector<float>{},
           py::arg("optimizer") = Optimizer::sgd, py::arg("lr") = 0.1f,
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

  mod.attr("gemm_backend") = gemm_backend();
  define_text(mod);
  define_test_hooks(mod);

}
