// Command-line and config-file options of every subcommand (Boost.Program_options), parsed and
// validated before any work starts, the same way on every rank.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "trainer/data/encoding.h"
#include "trainer/model/spec.h"
#include "trainer/optim/optimizer.h"
#include "trainer/train/progress.h"
#include "trainer/train/trainer.h"

namespace rnn_dist::cli {

// A usage error: bad flag or value. The message is one line naming it; the exit status is 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Command { kTrain, kPrepare, kSummary, kEvaluate, kPredict, kExport, kImport };

struct Options {
  Command command = Command::kTrain;
  bool help = false, version = false;
  std::string help_text;

  std::string data;            // aclImdb folder or prepared file
  std::string out;             // prepare: output file
  std::string output_dir = "runs/latest";  // train: where history, config and checkpoints go
  model::ModelSpec model;
  data::SequenceOptions sequence;  // its num_words is model.num_words, copied by parse_options
  optim::OptimizerConfig optimizer;
  train::TrainOptions train;   // evaluate uses eval_batch_size and threads (0: the cores)
  std::string denormals = "flush";  // flush (FTZ/DAZ) or keep: model/denormals.h
  double collective_timeout = 300;  // seconds; 0: no deadline
  bool no_test = false;             // train: skip the test split at the end
  // Checkpoints (train), and the checkpoint to use (evaluate, predict).
  std::string checkpoint_dir;  // default <output_dir>/checkpoints
  int keep = 3;
  std::string best_metric = "val_acc";
  std::string resume;          // "", "auto" or a path
  std::string checkpoint;      // evaluate / predict
  std::string split = "test";  // evaluate: test or val
  std::vector<std::string> texts;  // predict: reviews given as arguments
  std::vector<std::string> files;  // predict: files of one review each
  int digits = 4;                  // predict: digits after the point of each probability
  std::string format;              // export: onnx or tfjs (out: the file or folder to write)
  std::string from;                // import: model.json of a TensorFlow.js Layers model
  std::string vocabulary;          // import: its text pipeline JSON ("": beside model.json)
  train::Verbosity verbosity = train::Verbosity::kNormal;
  std::string progress = "auto";  // auto | bar | lines
  bool plot = false;              // draw history plots with launch/plot_history.py at the end
  bool log_all_ranks = false;     // ranks > 0 write <output-dir>/rank-<r>.log
  train::TensorBoardOptions tensorboard;  // --tensorboard DIR, --tensorboard-every N (rank 0)
  std::string effective_config;  // INI text of every option's value, to repeat the run
  // The same with paths as typed: what every rank must agree on (a relative --data path may
  // resolve to other folders on different ranks: that is each rank's own business).
  std::string options_as_given;
};

// Parses argv (subcommand first, optional; `train` by default). Throws UsageError.
Options parse_options(int argc, char** argv);

// The data location: --data, else $RNN_DIST_DATA, else ./data/aclImdb. Throws UsageError naming
// where the path came from and what is missing there (data::data_path_problem; a hint to
// launch/get_imdb.sh when nothing exists there).
std::string resolve_data_path(const std::string& flag);

}  // namespace rnn_dist::cli
