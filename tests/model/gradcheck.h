// Finite-difference gradient checking, shared by every layer test (and by the model tests).
//
// Usage: compute the analytic gradients of a scalar loss once, then call check_gradients with a
// function that recomputes the loss (in double, from the current values) and the list of tensors
// to probe. Each entry of each tensor is perturbed by +-eps in place (and restored), the central
// difference (L(v+eps) - L(v-eps)) / (2 eps) is compared with the analytic value, and an entry
// fails when |numeric - analytic| > atol + rtol * max(|numeric|, |analytic|).
//
// The defaults suit float layers with O(1) activations and a loss L = sum(w .* y) with |w| <= 1:
// with eps = 1e-2 the truncation error (eps^2/6 f''') and the float rounding noise
// (~1e-7 |L| / eps) both stay near 1e-5, far below atol + rtol |g|, while a gradient that is off
// by 1% (see GradCheck.DetectsScaledGradient) fails.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace rnn_dist::model::testing {

struct GradCheckTensor {
  std::string name;                  // for the report, e.g. "lstm/kernel" or "dx"
  std::span<float> values;           // the tensor the loss reads; perturbed in place, restored
  std::span<const float> analytic;   // dL/dvalues computed by the code under test
};

struct GradCheckOptions {
  float eps = 1e-2f;
  double atol = 2e-4;
  double rtol = 3e-3;
};

struct GradCheckResult {
  bool ok = true;
  std::size_t checked = 0;   // entries compared
  std::size_t failures = 0;  // entries outside the tolerance
  // The entry with the largest |numeric - analytic| / (atol + rtol * max(|numeric|, |analytic|)).
  double worst_ratio = 0.0;
  std::string worst_tensor;
  std::size_t worst_index = 0;
  double worst_numeric = 0.0, worst_analytic = 0.0;
  double max_abs_diff = 0.0;  // over all entries
  double max_rel_diff = 0.0;  // |diff| / max(|numeric|, |analytic|), over entries with |g| > 1e-3
  std::string report() const;  // one line: verdict, counts, the worst entry
};

GradCheckResult check_gradients(const std::function<double()>& loss,
                                const std::vector<GradCheckTensor>& tensors,
                                const GradCheckOptions& options = {});

// L = sum_i w_i y_i in double: the standard scalar loss for layer tests.
double weighted_sum(std::span<const float> y, std::span<const float> w);

}  // namespace rnn_dist::model::testing
