// --plot: the history plots (accuracy.png, loss.png, the tutorial's two figures) drawn at the end
// of a training run by launch/plot_history.py, a Python script run as a child process.
#pragma once

#include <cstddef>
#include <string>

#include "trainer/train/progress.h"

namespace rnn_dist::cli {

// Whether plots can be drawn (the script is found, python3 imports matplotlib): checked before
// training starts, so that a missing matplotlib is known before a long run. False, with a
// warning on stderr, when they cannot.
bool plotting_wanted();

// Draws accuracy.png and loss.png from <dir>/history.csv (`rows` epochs) into `dir`; a failure
// is a warning through `progress`, not a failed run.
void plot_history(const std::string& dir, std::size_t rows, train::Progress& progress);

}  // namespace rnn_dist::cli
