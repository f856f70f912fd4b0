// Optimizers over the model's flat parameter buffer. State (moments) is a flat buffer too, one
// per slot, the parameter buffer's mirror: a checkpoint stores it tensor by tensor as it stores
// the parameters, and every replica holds the same state.
//
// Formulas (Keras 3 / tf.keras >= 2.11):
//   rmsprop: v = rho*v + (1-rho)*g^2;  w -= lr * g / sqrt(v + epsilon)
//   adam:    m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;
//            w -= lr * sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + epsilon)
//   sgd:     u = momentum*u - lr*g;  w += u   (nesterov: w += momentum*u - lr*g)
// Gradient clipping by global norm (clipnorm in the global sense): g *= c / max(|g|, c).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace rnn_dist::optim {

struct OptimizerConfig {
  std::string name = "rmsprop";  // rmsprop | adam | sgd
  double lr = 1e-3;
  double rho = 0.9;         // rmsprop
  double beta_1 = 0.9;      // adam
  double beta_2 = 0.999;    // adam
  double momentum = 0.0;    // sgd
  bool nesterov = false;    // sgd
  double epsilon = 1e-7;
  double clip_norm = 0.0;   // 0 = no clipping
};

class OptimizerError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Throws OptimizerError naming the bad value (unknown name, lr <= 0, rho outside [0,1), ...).
void validate(const OptimizerConfig& config);

// The hyperparameters the optimizer config.name uses, by name ("lr", "rho", "beta_1", "beta_2",
// "momentum", "nesterov" as 0 or 1, "epsilon", "clip_norm"): what a checkpoint records, so
// that a resumed run can be checked against the run that wrote it.
std::vector<std::pair<std::string, double>> hyperparameters(const OptimizerConfig& config);

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // One update of params from grads (same size as the buffer given at construction).
  // `lr` is the learning rate of this step (schedules and warm-up change it).
  virtual void step(std::span<float> params, std::span<const float> grads, double lr) = 0;
  // Named state buffers (e.g. {"v"} or {"m", "v"}) for checkpoints; iterations done.
  virtual std::vector<std::pair<std::string, std::vector<float>*>> slots() = 0;
  std::uint64_t iterations() const { return iterations_; }
  void set_iterations(std::uint64_t n) { iterations_ = n; }
  const OptimizerConfig& config() const { return config_; }

 protected:
  explicit Optimizer(OptimizerConfig config) : config_(std::move(config)) {}
  OptimizerConfig config_;
  std::uint64_t iterations_ = 0;
};

// Builds the optimizer for a buffer of `size` floats. Throws OptimizerError.
std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config, std::size_t size);

// Global L2 norm of the gradient buffer (in double).
double global_norm(std::span<const float> grads);
// Scales grads by clip_norm / norm when norm > clip_norm. Returns the norm before clipping.
double clip_by_global_norm(std::span<float> grads, double clip_norm);

}  // namespace rnn_dist::optim
