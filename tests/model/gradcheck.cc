#include "gradcheck.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace rnn_dist::model::testing {

std::string GradCheckResult::report() const {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "%s: %zu entries, %zu outside tolerance; max |diff| %.3g, max rel diff %.3g; worst "
                "%s[%zu]: numeric %.7g analytic %.7g (%.3g x tolerance)",
                ok ? "OK" : "MISMATCH", checked, failures, max_abs_diff, max_rel_diff,
                worst_tensor.c_str(), worst_index, worst_numeric, worst_analytic, worst_ratio);
  return buf;
}

GradCheckResult check_gradients(const std::function<double()>& loss,
                                const std::vector<GradCheckTensor>& tensors,
                                const GradCheckOptions& options) {
  GradCheckResult res;
  for (const auto& t : tensors) {
    for (std::size_t i = 0; i < t.values.size(); ++i) {
      const float saved = t.values[i];
      // The step actually taken in float, so that rounding of v +- eps does not bias the slope.
      const float plus = saved + options.eps, minus = saved - options.eps;
      t.values[i] = plus;
      const double lp = loss();
      t.values[i] = minus;
      const double lm = loss();
      t.values[i] = saved;
      const double numeric = (lp - lm) / (double(plus) - double(minus));
      const double analytic = t.analytic[i];
      const double diff = std::abs(numeric - analytic);
      const double scale = std::max(std::abs(numeric), std::abs(analytic));
      const double ratio = diff / (options.atol + options.rtol * scale);
      ++res.checked;
      res.max_abs_diff = std::max(res.max_abs_diff, diff);
      if (scale > 1e-3) res.max_rel_diff = std::max(res.max_rel_diff, diff / scale);
      if (ratio > 1.0) ++res.failures;
      if (ratio > res.worst_ratio || res.checked == 1) {
        res.worst_ratio = ratio;
        res.worst_tensor = t.name;
        res.worst_index = i;
        res.worst_numeric = numeric;
        res.worst_analytic = analytic;
      }
    }
  }
  res.ok = res.failures == 0;
  return res;
}

double weighted_sum(std::span<const float> y, std::span<const float> w) {
  double s = 0.0;
  for (std::size_t i = 0; i < y.size(); ++i) s += double(w[i]) * double(y[i]);
  return s;
}

}  // namespace rnn_dist::model::testing
