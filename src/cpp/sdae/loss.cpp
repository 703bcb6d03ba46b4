#include "sdae/loss.hpp"

namespace sdae {

double output_segment(const float* const* shares, int parts, const float* c, const float* x, float* out, float* csum,
                      Index n, Loss loss, Activation decoder, bool delta, float inv_b) {
  using Block = Eigen::Array<float, 16, 1>;
  Eigen::Array<double, 16, 1> total = Eigen::Array<double, 16, 1>::Zero();
  for (Index j = 0; j < n; j += 16) {
    const int lanes = static_cast<int>(std::min<Index>(16, n - j));
    auto load = [&](const float* p) -> Block {
      if (lanes == 16) return Eigen::Map<const Block>(p + j);
      Block v = Block::Zero();
      v.head(lanes) = Eigen::Map<const Eigen::ArrayXf>(p + j, lanes);
      return v;
    };
    Block a = load(shares[0]);
    if (c != nullptr) a += load(c);
    for (int u = 1; u < parts; ++u) a += load(shares[u]);
    const Block xv = load(x);
    Block l = element_loss(a, xv, loss, decoder);
    if (lanes < 16) l.tail(16 - lanes).setZero();
    total += l.cast<double>();
    if (!delta) continue;
    output_gradient(a, xv, loss, decoder, inv_b);
    if (lanes == 16) {
      Eigen::Map<Block>(out + j) = a;
      Eigen::Map<Block>(csum + j) += a;
    } else {
      Eigen::Map<Eigen::ArrayXf>(out + j, lanes) = a.head(lanes);
      Eigen::Map<Eigen::ArrayXf>(csum + j, lanes) += a.head(lanes);
    }
  }
  return total.sum();
}

}  // namespace sdae
