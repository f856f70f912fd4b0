// Fault injection for the failure tests, driven by one environment variable so that the product
// binary itself is what the tests break:
//
//   RNN_DIST_FAULT=<kind>:<rank>:<global step>
//     throw  the rank throws a std::runtime_error before that step (a crash inside training)
//     stop   the rank stops itself with SIGSTOP before that step (a hung rank)
//     exit   the rank calls _exit(9) before that step (a rank that dies without a word)
//     nan    the rank sets its last parameter (the output bias, used by every example) to NaN before that
//            step, so the step's all-reduced gradient is not finite (non-finite handling)
//
// Unset (always, outside tests) it costs nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

namespace rnn_dist::cli {

// The step hook for this rank, or an empty function when RNN_DIST_FAULT is unset or names
// another rank. Throws UsageError for a malformed value.
std::function<void(std::uint64_t, std::span<float>)> fault_hook_from_env(int rank);

}  // namespace rnn_dist::cli
