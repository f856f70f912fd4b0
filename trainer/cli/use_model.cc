// Using a trained model: `rnn_dist evaluate` (any number of ranks) and `rnn_dist predict`
// (one process), both driven by a checkpoint's own model, vocabulary and text pipeline.
#include <Eigen/Core>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "comm/mpi_communicator.h"
#include "trainer/cli/commands.h"
#include "trainer/cli/run_info.h"
#include "trainer/data/split.h"
#include "trainer/data/vocabulary.h"
#include "trainer/train/checkpointer.h"
#include "trainer/train/evaluate.h"

namespace rnn_dist::cli {

namespace {

data::SequenceOptions sequence_of(const pb::Checkpoint& c) {
  data::SequenceOptions s;
  s.num_words = c.model().num_words();
  s.maxlen = c.pipeline().maxlen();
  s.padding = data::parse_padding(c.pipeline().padding());
  s.truncating = data::parse_padding(c.pipeline().truncating());
  s.validate();
  return s;
}

// The model of a checkpoint, with its parameters.
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

}  // namespace

int run_evaluate(const Options& o, int& argc, char**& argv) {
  auto comm = comm::make_communicator(&argc, &argv);
  comm->set_deadline(o.collective_timeout);
  Eigen::setNbThreads(choose_threads(o.threads, comm->local_size()));
  // Every rank reads the checkpoint and finds its data; the ranks agree on the outcome.
  std::string data_path, setup_error;
  pb::Checkpoint checkpoint;
  std::unique_ptr<model::Model> model;
  data::SequenceOptions sequence;
  try {
    data_path = resolve_data_path(o.data);
    checkpoint = train::read_checkpoint_file(o.checkpoint);
    model = load_model(checkpoint, o.checkpoint);
    sequence = sequence_of(checkpoint);
  } catch (const std::exception& e) {
    setup_error = e.what();
  }
  if (agree_on_setup_errors(*comm, setup_error)) return kExitRuntime;
  try {
    const std::string prepared = prepare_rank0_first(*comm, data_path, o.collective_timeout);
    const data::PreparedDataset dataset(prepared);
    // Token ids are frequency ranks in the dataset's vocabulary: it must be the model's.
    if (dataset.vocabulary().words() != data::Vocabulary::from_proto(checkpoint.vocabulary()).words())
      throw UsageError("the vocabulary of " + prepared + " differs from the one " + o.checkpoint +
                       " was trained with (prepared from other data?)");
    std::vector<std::uint32_t> ids;
    data::SplitView split;
    if (o.split == "test") {
      split = dataset.split("test");
      ids.resize(split.size());
      for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::uint32_t>(i);
    } else {
      split = dataset.split("train");
      ids = data::make_validation_split(split.size(), checkpoint.training().validation_split(),
                                        data::kLoaderSeed).val;
      if (ids.empty()) throw UsageError(o.checkpoint + " was trained without a validation split");
    }
    const auto sums = train::evaluate(*model, *comm, split, ids, sequence, o.train.eval_batch_size);
    if (comm->rank() == 0) {
      std::printf("%s split: loss %.4f - acc %.4f (%lld reviews, %d rank(s))\n", o.split.c_str(),
                  sums.loss(), sums.accuracy(), static_cast<long long>(sums.count), comm->size());
      std::fflush(stdout);
    }
    comm->barrier();
  } catch (const std::exception& e) {
    comm->abort(e.what(), kExitRuntime);
  }
  return kExitOk;
}

int run_predict(const Options& o) {
  const auto checkpoint = train::read_checkpoint_file(o.checkpoint);
  auto model = load_model(checkpoint, o.checkpoint);
  const auto sequence = sequence_of(checkpoint);
  const auto vocabulary = data::Vocabulary::from_proto(checkpoint.vocabulary());
  const auto& tokenizer = checkpoint.pipeline().tokenizer();

  // The reviews, with a short label each for the output.
  std::vector<std::pair<std::string, std::string>> reviews;
  for (const auto& t : o.texts) reviews.emplace_back(t, t);
  for (const auto& f : o.files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) throw UsageError("--file " + f + ": cannot read the file");
    reviews.emplace_back(std::string(std::istreambuf_iterator<char>(in), {}), f);
  }
  if (o.texts.empty() && o.files.empty()) {
    for (std::string line; std::getline(std::cin, line);)
      if (!line.empty()) reviews.emplace_back(line, line);
  }

  // Encode every review with the checkpoint's vocabulary into one in-memory split, then score it
  // in batches exactly as evaluation does.
  std::vector<std::uint8_t> labels(reviews.size(), 0), ratings(reviews.size(), 0);
  std::vector<std::uint64_t> offsets{0};
  std::vector<std::uint32_t> tokens;
  for (const auto& [text, name] : reviews) {
    const auto ids = vocabulary.encode_text(text, tokenizer);
    tokens.insert(tokens.end(), ids.begin(), ids.end());
    offsets.push_back(tokens.size());
  }
  const data::SplitView split("predict", reviews.size(), labels.data(), ratings.data(),
                              offsets.data(), tokens.data());
  train::BatchEncoder encoder(sequence, model->spec().mask_padding);
  constexpr std::size_t kBatch = 256;
  std::vector<float> logits;
  std::vector<std::uint32_t> ids;
  for (std::size_t begin = 0; begin < reviews.size(); begin += kBatch) {
    const std::size_t n = std::min(kBatch, reviews.size() - begin);
    ids.resize(n);
    for (std::size_t i = 0; i < n; ++i) ids[i] = static_cast<std::uint32_t>(begin + i);
    const int T = encoder.encode(split, ids);
    logits.resize(n);
    model->forward(encoder.tokens(), T, static_cast<int>(n), logits);
    for (std::size_t i = 0; i < n; ++i) {
      const double p = 1.0 / (1.0 + std::exp(-double(logits[i])));
      std::string shown = reviews[begin + i].second.substr(0, 60);
      for (char& c : shown)
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
      std::printf("%.4f\t%s\t%s\n", p, p > 0.5 ? "positive" : "negative", shown.c_str());
    }
  }
  return kExitOk;
}

}  // namespace rnn_dist::cli
