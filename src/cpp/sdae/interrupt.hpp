// Stopping a long epoch from outside (Ctrl-C, SIGTERM) without the core knowing who asks.
#pragma once
#include <chrono>
#include <functional>
#include <stdexcept>

namespace sdae {

/// Thrown out of a training call when its stop check said so; the parameters are then partway
/// through the epoch, and the caller restores the epoch's starting state.
struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

/// Asks `should_stop` at most every 20 ms, between minibatches.
class StopPoller {
 public:
  explicit StopPoller(const std::function<bool()>& should_stop) : should_stop_(should_stop) {}
  void check() {
    if (!should_stop_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(20)) return;
    last_ = now;
    if (should_stop_()) throw Interrupted();
  }

 private:
  const std::function<bool()>& should_stop_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

}  // namespace sdae
