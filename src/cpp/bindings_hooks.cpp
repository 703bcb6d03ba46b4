// The private hooks the tests call through _core: an exception from inside a parallel region,
// and the product kernels and their dispatcher on arrays.
#include <omp.h>

#include <array>
#include <new>
#include <stdexcept>
#include <string>

#include "bindings.hpp"
#include "sdae/gemm.hpp"
#include "sdae/rowwise.hpp"
#include "sdae/short_batch.hpp"
#include "sdae/threads.hpp"

namespace {

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
                   Kernel::short_rank_update, Kernel::rowwise_times})
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
                               Index step_batch, bool own_row) {
    const Rows rows = own_row ? Rows::own_row : Rows::batch;
    return std::string(kernel_name(choose_kernel(m, n, k, ta, tb, alpha, beta, step_batch, rows)));
  }, py::arg("m"), py::arg("n"), py::arg("k"), py::arg("transpose_a"), py::arg("transpose_b"), py::arg("alpha"),
     py::arg("beta"), py::arg("step_batch") = 0, py::arg("own_row") = false,
     "For the tests: the kernel gemm runs for one thread's block C (m, n) = alpha op(A) op(B) + beta C "
     "(own_row: each row of C from its row of A alone, as inference asks).");
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
                      int num_threads, Index step_batch, bool own_row) {
    check_product(C, A, ta, B, tb);
    py::gil_scoped_release nogil;
    gemm(C, A, ta, B, tb, alpha, beta, num_threads, step_batch, own_row ? Rows::own_row : Rows::batch);
  }, py::arg("C").noconvert(), py::arg("A").noconvert(), py::arg("transpose_a"), py::arg("B").noconvert(),
     py::arg("transpose_b"), py::arg("alpha"), py::arg("beta"), py::arg("num_threads") = 1,
     py::arg("step_batch") = 0, py::arg("own_row") = false,
     "For the tests: the one entry for products, as the core calls it.");
  py::dict limits;
  limits["small_batch"] = kSmallBatch;
  limits["times_rows"] = kTimesRows;
  limits["update_rows"] = kUpdateRows;
  limits["short_batch"] = kShortBatch;
  limits["short_tiles"] = have_short_tiles();
  limits["fused_chains"] = kFusedChains;
  mod.attr("_kernel_limits") = limits;
}

}  // namespace

void define_test_hooks(py::module_& mod) {
  mod.def("_raise_from_threads", &raise_from_threads, py::arg("kind"),
          "For the tests: throw bad_alloc, invalid_argument, logic_error or any other message as a "
          "runtime_error from inside a parallel region.");
  define_kernel_hooks(mod);
}
