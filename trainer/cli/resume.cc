#include "trainer/cli/resume.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "trainer/cli/commands.h"
#include "trainer/cli/option_checks.h"
#include "trainer/cli/run_info.h"
#include "trainer/train/checkpointer.h"

namespace rnn_dist::cli {

namespace {

// Rank 0 reads the checkpoint to resume from and sends its bytes to every rank, so that ranks on
// other hosts need not see the checkpoint folder. Returns false when there is nothing to resume.
bool load_resume_checkpoint(const Options& o, comm::Communicator& comm, train::Progress& progress,
                            pb::Checkpoint& checkpoint, std::string& source) {
  std::string bytes;
  if (comm.rank() == 0) {
    if (o.resume == "auto") {
      source = train::find_latest_valid(
          o.checkpoint_dir, [&](const std::string& w) { progress.message("warning: " + w, true); },
          &checkpoint);
      if (source.empty()) progress.message("--resume auto: no checkpoint in " + o.checkpoint_dir + ", starting afresh");
    } else {
      source = o.resume;
      checkpoint = train::read_checkpoint_file(source);
    }
    if (!source.empty()) checkpoint.SerializeToString(&bytes);
  }
  std::uint64_t size = bytes.size();
  comm.set_context("resume checkpoint broadcast");
  comm.broadcast(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(&size), sizeof size));
  if (size == 0) return false;
  bytes.resize(size);
  comm.broadcast(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(bytes.data()), size));
  if (comm.rank() != 0 && !checkpoint.ParseFromString(bytes))
    throw train::CheckpointError("resume checkpoint did not arrive intact from rank 0");
  return true;
}

// The option that sets an optimizer hyperparameter (optim::hyperparameters); beta_1 and beta_2
// are fixed in this build.
std::string hyper_option(const std::string& name) {
  if (name == "clip_norm") return "--clip-norm";
  if (name == "beta_1" || name == "beta_2") return name + " (not an option)";
  return "--" + name;
}

// "--lr 0.001", "--nesterov on": a hyperparameter as an option on a command line.
std::string hyper_text(const std::string& name, double value) {
  if (name == "nesterov") return "--nesterov " + std::string(value != 0 ? "on" : "off");
  return hyper_option(name) + " " + format_number(value);
}

// Why a checkpoint cannot be resumed with these options ("" if it can). A resumed run continues
// the training that wrote the checkpoint: the examples in the same order (batch size, seed,
// split), the same model and the same optimizer (its state means nothing to another one). Its
// hyperparameters may change (hyperparameter_changes).
std::string resume_problem(const pb::Checkpoint& c, const Options& o, const std::string& source) {
  const std::string prefix = "cannot resume from " + source + ": it was trained with ";
  const auto differ = [&](const std::string& then, const std::string& now) {
    return prefix + then + ", this run has " + now;
  };
  const auto& s = c.training();
  if (s.batch_size() != o.train.batch_size)
    return differ("--batch-size " + std::to_string(s.batch_size()),
                  "--batch-size " + std::to_string(o.train.batch_size));
  if (s.seed() != o.train.seed)
    return differ("--seed " + std::to_string(s.seed()), "--seed " + std::to_string(o.train.seed));
  if (s.validation_split() != o.train.validation_split)
    return differ("--validation-split " + format_number(s.validation_split()),
                  "--validation-split " + format_number(o.train.validation_split));
  if (const auto spec = train::from_proto(c.model()); spec != o.model)
    return differ(train::model_options(spec), train::model_options(o.model));
  if (c.optimizer().name() != o.optimizer.name)
    return differ("--optimizer " + c.optimizer().name(), "--optimizer " + o.optimizer.name);
  return "";
}

// The optimizer settings of this run that differ from the checkpoint's (its hyper map; a key an
// older file lacks is not compared): "--lr 0.0001 (the checkpoint was trained with --lr 0.001)".
// Changing the learning rate of a resumed run is ordinary (a lower rate to fine-tune, a manual
// decay), as in Keras and PyTorch, which let a restored optimizer's settings be set anew; but a
// forgotten option would change the training silently, so rank 0 says so.
std::vector<std::string> hyperparameter_changes(const pb::Checkpoint& c, const Options& o) {
  std::vector<std::string> changes;
  for (const auto& [name, value] : optim::hyperparameters(o.optimizer)) {
    const auto then = c.optimizer().hyper().find(name);
    if (then != c.optimizer().hyper().end() && then->second != value)
      changes.push_back(hyper_text(name, value) + " (the checkpoint was trained with " +
                        hyper_text(name, then->second) + ")");
  }
  return changes;
}

}  // namespace

int find_start(const Options& o, comm::Communicator& comm, train::Progress& progress,
               StartPoint& start) {
  start.resume = !o.resume.empty() &&
                 load_resume_checkpoint(o, comm, progress, start.checkpoint, start.source);
  if (!start.resume) return 0;
  if (const int status = agree_on_setup_errors(
          comm, resume_problem(start.checkpoint, o, start.source), kExitUsage))
    return status;
  if (comm.rank() == 0)
    for (const auto& change : hyperparameter_changes(start.checkpoint, o))
      progress.message("warning: resuming from " + start.source + " with " + change +
                           ": the optimizer state carries on under this run's setting",
                       true);
  return 0;
}

void start_training(const StartPoint& start, model::Model& model, optim::Optimizer& optimizer,
                    train::Trainer& trainer, const train::HistoryWriter* history,
                    train::Progress& progress, bool root) {
  if (!start.resume) return trainer.initialize_parameters();
  train::restore(start.checkpoint, start.source, model, &optimizer);
  const auto& s = start.checkpoint.training();
  trainer.resume(s);
  // The history files start again from the checkpoint's epochs (a crash before the next epoch's
  // end must not leave them empty).
  if (history) history->write(trainer.history());
  if (root)
    progress.message("resumed from " + start.source + ": epoch " + std::to_string(s.epoch() + 1) +
                         ", step " + std::to_string(s.step_in_epoch()) + " done, global step " +
                         std::to_string(s.global_step()) + " (written by " +
                         std::to_string(s.world_size()) + " rank(s))",
                     true);
}

}  // namespace rnn_dist::cli
