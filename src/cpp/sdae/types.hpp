// Array aliases and enums shared by the core. float32, row-major: the layout NumPy hands us.
#pragma once
#include <Eigen/Core>
#include <cstdint>

namespace sdae {

using Index = Eigen::Index;
using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using VectorF = Eigen::VectorXf;
using MatrixRef = Eigen::Ref<RowMatrixF>;
using ConstMatrixRef = Eigen::Ref<const RowMatrixF>;
using VectorRef = Eigen::Ref<VectorF>;
using ConstVectorRef = Eigen::Ref<const VectorF>;
using MatrixMap = Eigen::Map<RowMatrixF>;
using ConstMatrixMap = Eigen::Map<const RowMatrixF>;
using VectorMap = Eigen::Map<VectorF>;
using ConstVectorMap = Eigen::Map<const VectorF>;

enum class Activation { sigmoid, tanh, relu, linear };
enum class Loss { cross_entropy, squared_error };
enum class NoiseType { none, masking, gaussian, salt_pepper };
enum class Optimizer { sgd, momentum, adam };

}  // namespace sdae
