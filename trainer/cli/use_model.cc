// Using a trained model: `rnn_dist evaluate` (any number of ranks) and `rnn_dist predict`
// (one process), both driven by a checkpoint's own model, vocabulary and text pipeline.
#include <Eigen/Core>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>

#include "comm/mpi_communicator.h"
#include "trainer/cli/commands.h"
#include "trainer/cli/option_checks.h"
#include "trainer/cli/run_info.h"
#include "trainer/cli/use_model.h"
#include "trainer/data/split.h"
#include "trainer/data/tokenizer.h"
#include "trainer/data/vocabulary.h"
#include "trainer/train/checkpointer.h"
#include "trainer/train/evaluate.h"

namespace rnn_dist::cli {

std::unique_ptr<model::Model> load_model(const pb::Checkpoint& c, const std::string& path) {
  // The model is built from the spec before its tensors are compared: make sure the spec's
  // largest tensor is really in the file, so a damaged spec cannot make us allocate gigabytes.
  const auto& spec = c.model();
  if (c.parameters_size() == 0 ||
      static_cast<std::int64_t>(c.parameters(0).data_size()) !=
          static_cast<std::int64_t>(spec.num_words()) * spec.embed_dim())
    throw train::CheckpointError("checkpoint " + path + " is inconsistent: its embedding does not "
                                 "match its model spec");
  auto model = std::make_unique<model::Model>(train::from_proto(c.model()));
  train::restore(c, path, *model, nullptr);
  return model;
}

namespace {

// A review to score and what its output line shows.
struct Review {
  std::string text;
  std::string label;
};

// Why `text` cannot be scored, "" if it can: empty, a NUL byte (binary data, not text), or not
// valid UTF-8 (the tokenizer's contract, data/tokenizer.h).
std::string review_problem(std::string_view text) {
  if (text.empty()) return "empty review";
  if (const auto nul = text.find('\0'); nul != std::string_view::npos)
    return "NUL byte at byte " + std::to_string(nul) + " (not text)";
  if (const auto bad = data::find_invalid_utf8(text); bad != text.size()) {
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02x", static_cast<unsigned char>(text[bad]));
    return "invalid UTF-8 at byte " + std::to_string(bad) + " (" + byte + ")";
  }
  return "";
}

// The first 60 bytes of `text`, cut between UTF-8 characters, control characters as spaces,
// anything else unprintable escaped: one field of a tab-separated line.
std::string short_label(std::string_view text) {
  std::size_t n = std::min<std::size_t>(text.size(), 60);
  while (n > 0 && n < text.size() && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  std::string shown(text.substr(0, n));
  for (char& c : shown)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return printable(shown);
}

// Reads the whole file `path` into `text`; false with `error` set if it cannot.
bool read_file(const std::string& path, std::string& text, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = std::string("cannot open the file: ") + std::strerror(errno);
    return false;
  }
  try {
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::exception& e) {
    error = std::string("cannot read the file: ") + e.what();
    return false;
  }
  if (in.bad()) {
    error = "cannot read the file";
    return false;
  }
  return true;
}

// Encodes every review with the checkpoint's vocabulary into one in-memory split and scores it
// in batches exactly as evaluation does; prints "probability<TAB>label<TAB>review" per review,
// in order.
void score(model::Model& model, const data::SequenceOptions& sequence,
           const data::Vocabulary& vocabulary, const pb::TokenizerOptions& tokenizer,
           const std::vector<Review>& reviews, int digits) {
  std::vector<std::uint8_t> labels(reviews.size(), 0), ratings(reviews.size(), 0);
  std::vector<std::uint64_t> offsets{0};
  std::vector<std::uint32_t> tokens;
  for (const auto& review : reviews) {
    const auto ids = vocabulary.encode_text(review.text, tokenizer);
    tokens.insert(tokens.end(), ids.begin(), ids.end());
    offsets.push_back(tokens.size());
  }
  const data::SplitView split("predict", reviews.size(), labels.data(), ratings.data(),
                              offsets.data(), tokens.data());
  train::BatchEncoder encoder(sequence, model.spec().mask_padding);
  constexpr std::size_t kBatch = 256;
  std::vector<float> logits;
  std::vector<std::uint32_t> ids;
  for (std::size_t begin = 0; begin < reviews.size(); begin += kBatch) {
    const std::size_t n = std::min(kBatch, reviews.size() - begin);
    ids.resize(n);
    for (std::size_t i = 0; i < n; ++i) ids[i] = static_cast<std::uint32_t>(begin + i);
    const int T = encoder.encode(split, ids);
    logits.resize(n);
    model.forward(encoder.tokens(), T, static_cast<int>(n), logits);
    for (std::size_t i = 0; i < n; ++i) {
      const double p = 1.0 / (1.0 + std::exp(-double(logits[i])));
      std::printf("%.*f\t%s\t%s\n", digits, p, p > 0.5 ? "positive" : "negative",
                  reviews[begin + i].label.c_str());
    }
  }
}

// The reviews `evaluate --split` names.
struct EvaluationSet {
  data::SplitView split;
  std::vector<std::uint32_t> ids;
};

// Fills `set` with the reviews of --split in `dataset`; returns why they cannot be evaluated
// with this checkpoint ("" if they can): data with another vocabulary (token ids are frequency
// ranks in it), or --split val of a run trained without a validation split. The same on every
// rank (the ranks hold the same checkpoint and data).
std::string evaluation_set(const Options& o, const pb::Checkpoint& checkpoint,
                           const data::PreparedDataset& dataset, const std::string& prepared,
                           EvaluationSet& set) {
  if (dataset.vocabulary().words() != data::Vocabulary::from_proto(checkpoint.vocabulary()).words())
    return "the vocabulary of " + prepared + " differs from the one " + o.checkpoint +
           " was trained with (prepared from other data?)";
  if (o.split == "test") {
    set.split = dataset.split("test");
    set.ids.resize(set.split.size());
    for (std::size_t i = 0; i < set.ids.size(); ++i) set.ids[i] = static_cast<std::uint32_t>(i);
    return "";
  }
  set.split = dataset.split("train");
  set.ids = data::make_validation_split(set.split.size(), checkpoint.training().validation_split(),
                                        data::kLoaderSeed)
                .val;
  return set.ids.empty() ? o.checkpoint + " was trained without a validation split" : "";
}

}  // namespace

int run_evaluate(const Options& o, int& argc, char**& argv) {
  auto comm = comm::make_communicator(&argc, &argv);
  comm->set_deadline(o.collective_timeout);
  Eigen::setNbThreads(choose_threads(o.train.threads, comm->local_size()));
  // Every rank reads the checkpoint and finds its data; the ranks agree on the outcome.
  // A missing data folder or checkpoint file is a usage error (2), a damaged checkpoint a
  // runtime one (1).
  std::string data_path;
  pb::Checkpoint checkpoint;
  std::unique_ptr<model::Model> model;
  data::SequenceOptions sequence;
  const Failure setup = failure_of("loading " + o.checkpoint, [&] {
    data_path = resolve_data_path(o.data);
    check_input_file("--checkpoint", o.checkpoint);
    checkpoint = train::read_checkpoint_file(o.checkpoint);
    model = load_model(checkpoint, o.checkpoint);
    sequence = train::sequence_of(checkpoint);
  });
  if (const int status = agree_on_setup_errors(*comm, setup.message, setup.status)) return status;
  return run_or_abort(*comm, "evaluation", [&]() -> int {
    std::string prepared;
    std::optional<data::PreparedDataset> opened;
    if (const int status = open_dataset(*comm, data_path, o.collective_timeout, opened, prepared))
      return status;
    const data::PreparedDataset& dataset = *opened;
    EvaluationSet set;
    const std::string problem = evaluation_set(o, checkpoint, dataset, prepared, set);
    if (const int status = agree_on_setup_errors(*comm, problem, kExitUsage)) return status;
    const auto sums =
        train::evaluate(*model, *comm, set.split, set.ids, sequence, o.train.eval_batch_size);
    if (comm->rank() == 0) {
      std::printf("%s split: loss %.4f - acc %.4f (%lld reviews, %d rank(s))\n", o.split.c_str(),
                  sums.loss(), sums.accuracy(), static_cast<long long>(sums.count), comm->size());
      std::fflush(stdout);
    }
    comm->barrier();
    return kExitOk;
  });
}

int run_predict(const Options& o) {
  // Paths first: a missing checkpoint or --file is a usage error (2) before anything is read.
  check_input_file("--checkpoint", o.checkpoint);
  for (const auto& f : o.files) check_input_file("--file", f);
  const auto checkpoint = train::read_checkpoint_file(o.checkpoint);
  auto model = load_model(checkpoint, o.checkpoint);
  const auto sequence = train::sequence_of(checkpoint);
  const auto vocabulary = data::Vocabulary::from_proto(checkpoint.vocabulary());
  const auto& tokenizer = checkpoint.pipeline().tokenizer();

  // The reviews; one that cannot be scored is reported on its own line and the others scored.
  std::vector<Review> reviews;
  int bad = 0;
  const auto report = [&](const std::string& where, const std::string& problem) {
    std::fprintf(stderr, "rnn_dist: error: %s: %s\n", printable(where).c_str(), problem.c_str());
    ++bad;
  };
  // `file`: the file the review came from (its output line shows the name), "" for a text.
  const auto add = [&](std::string text, const std::string& where, const std::string& file) {
    if (const auto problem = review_problem(text); !problem.empty()) return report(where, problem);
    std::string label = short_label(file.empty() ? text : file);
    reviews.push_back({std::move(text), std::move(label)});
  };
  for (std::size_t i = 0; i < o.texts.size(); ++i)
    add(o.texts[i], "argument " + std::to_string(i + 1), "");
  for (const auto& f : o.files) {
    std::string text, error;
    if (read_file(f, text, error)) add(std::move(text), "--file " + f, f);
    else report("--file " + f, error);
  }
  if (o.texts.empty() && o.files.empty()) {
    std::size_t number = 0, lines = 0;
    for (std::string line; std::getline(std::cin, line);) {
      ++number;
      if (line.empty()) continue;
      ++lines;
      add(std::move(line), "stdin line " + std::to_string(number), "");
    }
    if (std::cin.bad() || std::ferror(stdin))
      throw UsageError(std::string("stdin: cannot read it: ") + std::strerror(errno));
    if (lines == 0)
      throw UsageError("predict: no review to score: give reviews as arguments, with --file, or "
                       "one per line on stdin (stdin had none)");
  }
  score(*model, sequence, vocabulary, tokenizer, reviews, o.digits);
  std::fflush(stdout);
  return bad == 0 ? kExitOk : kExitRuntime;
}

}  // namespace rnn_dist::cli
