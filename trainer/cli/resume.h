// --resume: the checkpoint a training run continues from, checked against the run's options
// on every rank, and the continuation itself.
#pragma once

#include <string>

#include "comm/communicator.h"
#include "rnn_dist.pb.h"
#include "trainer/cli/options.h"
#include "trainer/model/model.h"
#include "trainer/optim/optimizer.h"
#include "trainer/train/history.h"
#include "trainer/train/progress.h"
#include "trainer/train/trainer.h"

namespace rnn_dist::cli {

// Where training starts: a checkpoint to resume from (on every rank; source, its path, is
// known to rank 0 only), or the initial weights.
struct StartPoint {
  bool resume = false;
  pb::Checkpoint checkpoint;
  std::string source;
};

// Collective: with --resume, rank 0 finds and reads the checkpoint (--resume auto: the newest
// valid one in --checkpoint-dir, warning about damaged ones through `progress`) and sends it to
// every rank. A checkpoint that does not fit these options (another model, batch size, seed,
// split or optimizer) is a usage error on every rank alike: returns that status (0: go on),
// before any output file is written. A changed optimizer setting (--lr, --rho, ...) is a warning
// from rank 0, and the run goes on with it.
int find_start(const Options& o, comm::Communicator& comm, train::Progress& progress,
               StartPoint& start);

// Continues from the checkpoint of `start` (parameters, optimizer state, the trainer's position
// and history; rank 0 says so through `progress`), or initialises the parameters (rank 0,
// broadcast). `history`: rank 0's history files, rewritten from the checkpoint's epochs.
void start_training(const StartPoint& start, model::Model& model, optim::Optimizer& optimizer,
                    train::Trainer& trainer, const train::HistoryWriter* history,
                    train::Progress& progress, bool root);

}  // namespace rnn_dist::cli
