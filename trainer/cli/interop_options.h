// Options of `rnn_dist export` and `rnn_dist import` (trainer/interop/): their descriptions for
// parse_options and the checks that need no file read.
#pragma once

#include <boost/program_options/options_description.hpp>

#include "trainer/cli/options.h"

namespace rnn_dist::cli {

// --checkpoint, --format, --out (export); --from, --vocabulary, --out (import).
boost::program_options::options_description interop_options(Options& o);

// Throws UsageError naming the option that is missing or has a value outside its choices.
void check_interop_options(const Options& o);

}  // namespace rnn_dist::cli
