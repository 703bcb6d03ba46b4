// What the binding files share: pybind11, the core's types, and the array views that cross the
// boundary. Only the bindings include pybind11; the core (sdae/) never does.
#pragma once
#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "sdae/types.hpp"

namespace py = pybind11;
using namespace sdae;

// Arrays arrive as views (float32, C-contiguous); noconvert() refuses anything that would need a copy.
using InMatrix = Eigen::Ref<const RowMatrixF>;
using OutMatrix = Eigen::Ref<RowMatrixF>;
using InVector = Eigen::Ref<const VectorF>;
using OutVector = Eigen::Ref<VectorF>;

/// The text codec's functions (bindings_text.cpp).
void define_text(py::module_& mod);
/// The private hooks the tests call: errors from threads, the kernels and their dispatcher
/// (bindings_hooks.cpp).
void define_test_hooks(py::module_& mod);
