// Fuzz target: the bytes are a checkpoint's payload (a serialized pb::Checkpoint), framed with a
// correct header and CRC so that every input gets past the checksum, then used the way
// `rnn_dist predict` uses a checkpoint: read, build its model, restore the parameters, build its
// vocabulary and text pipeline, and score one short review. Every step may refuse the file with
// an exception (the CLI turns it into one line and exit status 1); a crash, a sanitizer report or
// an exception that is not a std::exception is a finding.
//
// Models bigger than kMaxParams floats are skipped: the harness would only measure how much
// memory the machine has (see the report on sizes taken from the file before any check).
#include <cstdint>
#include <string_view>

#include "tests/fuzz/fuzz_common.h"
#include "trainer/data/encoding.h"
#include "trainer/data/prepared_dataset.h"
#include "trainer/data/vocabulary.h"
#include "trainer/model/model.h"
#include "trainer/train/checkpointer.h"
#include "trainer/train/evaluate.h"

namespace {

using namespace rnn_dist;

constexpr double kMaxParams = 1 << 24;
constexpr int kMaxLen = 4096;

// An upper bound of the parameter count of `spec` (4 gates, two bias vectors per layer).
double parameter_bound(const pb::ModelSpec& spec) {
  double n = double(spec.num_words()) * spec.embed_dim();
  double in = spec.embed_dim();
  for (const auto& l : spec.layers()) {
    n += 4.0 * l.units() * (in + l.units() + 2);
    in = l.units();
  }
  return n + in + 1;
}

void use_like_predict(const pb::Checkpoint& c) {
  if (parameter_bound(c.model()) > kMaxParams) return;
  model::Model model(train::from_proto(c.model()));
  train::restore(c, "fuzz.rnnd", model, nullptr);
  const data::SequenceOptions sequence = train::sequence_of(c);
  const auto vocabulary = data::Vocabulary::from_proto(c.vocabulary());
  auto tokens = vocabulary.encode_text("A <b>great</b> film, not a bad one.", c.pipeline().tokenizer());
  if (sequence.maxlen > kMaxLen) return;
  std::uint8_t label = 0, rating = 0;
  const std::uint64_t offsets[2] = {0, tokens.size()};
  const data::SplitView split("predict", 1, &label, &rating, offsets, tokens.data());
  train::BatchEncoder encoder(sequence, model.spec().mask_padding);
  const std::uint32_t id = 0;
  const int T = encoder.encode(split, std::span<const std::uint32_t>(&id, 1));
  float logit = 0;
  model.forward(encoder.tokens(), T, 1, std::span<float>(&logit, 1));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& path = fuzz::scratch_file();
  fuzz::write_file(path, fuzz::frame(std::string_view(reinterpret_cast<const char*>(data), size)));
  try {
    use_like_predict(train::read_checkpoint_file(path));
  } catch (const std::exception&) {
  }
  return 0;
}
