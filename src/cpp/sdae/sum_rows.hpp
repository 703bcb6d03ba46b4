// Column sums (a bias's gradient) in an order that does not depend on where arrays sit.
#pragma once
#include "sdae/types.hpp"

namespace sdae {

/// out = the sum of M's rows, added one row after another: every element in the same order at
/// any address. (Eigen's colwise().sum() adds a vectorised column four rows at a time, and the
/// columns it peels to reach an aligned address one by one: bias gradients moved in the last bit
/// with where NumPy placed theta.) @param M (rows >= 1, cols)  @param out (cols)
template <class Rows, class Out>
void sum_rows(const Rows& M, Out&& out) {
  out = M.row(0).transpose();
  for (Index i = 1; i < M.rows(); ++i) out += M.row(i).transpose();
}

}  // namespace sdae
