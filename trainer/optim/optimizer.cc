#include "trainer/optim/optimizer.h"

#include <cmath>
#include <cstdio>

namespace rnn_dist::optim {

namespace {

class RmsProp final : public Optimizer {
 public:
  RmsProp(const OptimizerConfig& c, std::size_t size) : Optimizer(c), v_(size, 0.0f) {}
  void step(std::span<float> w, std::span<const float> g, double lr) override {
    const float rho = static_cast<float>(config_.rho), one_minus_rho = 1.0f - rho;
    const float eps = static_cast<float>(config_.epsilon), rate = static_cast<float>(lr);
    float* v = v_.data();
    for (std::size_t i = 0; i < w.size(); ++i) {
      v[i] = rho * v[i] + one_minus_rho * g[i] * g[i];
      w[i] -= rate * g[i] / std::sqrt(v[i] + eps);
    }
    ++iterations_;
  }
  std::vector<std::pair<std::string, std::vector<float>*>> slots() override { return {{"v", &v_}}; }

 private:
  std::vector<float> v_;
};

class Adam final : public Optimizer {
 public:
  Adam(const OptimizerConfig& c, std::size_t size) : Optimizer(c), m_(size, 0.0f), v_(size, 0.0f) {}
  void step(std::span<float> w, std::span<const float> g, double lr) override {
    ++iterations_;
    const double t = static_cast<double>(iterations_);
    const float b1 = static_cast<float>(config_.beta_1), b2 = static_cast<float>(config_.beta_2);
    const float alpha = static_cast<float>(lr * std::sqrt(1.0 - std::pow(config_.beta_2, t)) /
                                           (1.0 - std::pow(config_.beta_1, t)));
    const float eps = static_cast<float>(config_.epsilon);
    float* m = m_.data();
    float* v = v_.data();
    for (std::size_t i = 0; i < w.size(); ++i) {
      m[i] = b1 * m[i] + (1.0f - b1) * g[i];
      v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
      w[i] -= alpha * m[i] / (std::sqrt(v[i]) + eps);
    }
  }
  std::vector<std::pair<std::string, std::vector<float>*>> slots() override {
    return {{"m", &m_}, {"v", &v_}};
  }

 private:
  std::vector<float> m_, v_;
};

class Sgd final : public Optimizer {
 public:
  Sgd(const OptimizerConfig& c, std::size_t size) : Optimizer(c), u_(size, 0.0f) {}
  void step(std::span<float> w, std::span<const float> g, double lr) override {
    const float mu = static_cast<float>(config_.momentum), rate = static_cast<float>(lr);
    float* u = u_.data();
    if (mu == 0.0f) {
      for (std::size_t i = 0; i < w.size(); ++i) w[i] -= rate * g[i];
    } else {
      for (std::size_t i = 0; i < w.size(); ++i) {
        u[i] = mu * u[i] - rate * g[i];
        w[i] += config_.nesterov ? mu * u[i] - rate * g[i] : u[i];
      }
    }
    ++iterations_;
  }
  std::vector<std::pair<std::string, std::vector<float>*>> slots() override {
    return {{"momentum", &u_}};
  }

 private:
  std::vector<float> u_;
};

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

void require(bool ok, const std::string& what) {
  if (!ok) throw OptimizerError(what);
}

}  // namespace

void validate(const OptimizerConfig& c) {
  require(c.name == "rmsprop" || c.name == "adam" || c.name == "sgd",
          "--optimizer '" + c.name + "' is unknown (expected rmsprop, adam or sgd)");
  require(std::isfinite(c.lr) && c.lr > 0, "--lr " + num(c.lr) + " must be > 0");
  require(c.rho >= 0 && c.rho < 1, "--rho " + num(c.rho) + " must be in [0, 1)");
  require(c.beta_1 >= 0 && c.beta_1 < 1, "--beta-1 " + num(c.beta_1) + " must be in [0, 1)");
  require(c.beta_2 >= 0 && c.beta_2 < 1, "--beta-2 " + num(c.beta_2) + " must be in [0, 1)");
  require(c.momentum >= 0 && c.momentum < 1,
          "--momentum " + num(c.momentum) + " must be in [0, 1)");
  require(c.epsilon > 0, "--epsilon " + num(c.epsilon) + " must be > 0");
  require(c.clip_norm >= 0,
          "--clip-norm " + num(c.clip_norm) + " must be >= 0 (0 disables clipping)");
}

std::vector<std::pair<std::string, double>> hyperparameters(const OptimizerConfig& c) {
  if (c.name == "adam")
    return {{"lr", c.lr}, {"beta_1", c.beta_1}, {"beta_2", c.beta_2}, {"epsilon", c.epsilon},
            {"clip_norm", c.clip_norm}};
  if (c.name == "sgd")
    return {{"lr", c.lr}, {"momentum", c.momentum}, {"nesterov", c.nesterov ? 1.0 : 0.0},
            {"clip_norm", c.clip_norm}};
  return {{"lr", c.lr}, {"rho", c.rho}, {"epsilon", c.epsilon}, {"clip_norm", c.clip_norm}};
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config, std::size_t size) {
  validate(config);
  if (config.name == "adam") return std::make_unique<Adam>(config, size);
  if (config.name == "sgd") return std::make_unique<Sgd>(config, size);
  return std::make_unique<RmsProp>(config, size);
}

double global_norm(std::span<const float> grads) {
  double s = 0;
  for (float g : grads) s += static_cast<double>(g) * g;
  return std::sqrt(s);
}

double clip_by_global_norm(std::span<float> grads, double clip_norm) {
  const double norm = global_norm(grads);
  if (clip_norm > 0 && norm > clip_norm) {
    const float scale = static_cast<float>(clip_norm / norm);
    for (float& g : grads) g *= scale;
  }
  return norm;
}

}  // namespace rnn_dist::optim
