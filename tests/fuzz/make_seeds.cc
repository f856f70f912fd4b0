// fuzz_make_seeds DIR: writes the seed corpus of the checkpoint fuzz targets, a few small valid
// checkpoints (each recurrent layer type, a stacked and a masked model, rmsprop / adam / sgd):
//   DIR/file/<name>.rnnd      whole checkpoint files (fuzz_checkpoint_file)
//   DIR/payload/<name>.pb     their serialized messages (fuzz_checkpoint_payload)
// Deterministic: the same build writes the same bytes.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_common.h"
#include "trainer/model/model.h"
#include "trainer/optim/optimizer.h"
#include "trainer/train/checkpointer.h"

namespace {

using namespace rnn_dist;

struct Seed {
  const char* name;
  const char* layers;
  int num_words;
  int embed;
  bool masked;
  const char* optimizer;
};

pb::Checkpoint make_seed(const Seed& s) {
  model::ModelSpec spec;
  spec.num_words = s.num_words;
  spec.embed_dim = s.embed;
  spec.layers = model::parse_layers(s.layers);
  spec.mask_padding = s.masked;
  model::Model model(spec);
  model.init(1337);
  optim::OptimizerConfig config;
  config.name = s.optimizer;
  auto optimizer = optim::make_optimizer(config, model.params().size());
  std::vector<float> grads(model.params().size(), 0.01f);
  optimizer->step(model.params(), grads, 1e-3);

  train::CheckpointContext context;
  context.model = train::to_proto(spec);
  context.pipeline.set_maxlen(12);
  context.pipeline.set_padding("pre");
  context.pipeline.set_truncating("post");
  context.pipeline.mutable_tokenizer()->set_lowercase(true);
  context.pipeline.mutable_tokenizer()->set_strip_html(true);
  context.pipeline.mutable_tokenizer()->set_version(1);
  const char* words[] = {"the", "a", "film", "great", "bad", "not", "one"};
  std::uint64_t count = 100;
  for (const char* w : words) {
    context.vocabulary.add_words(w);
    context.vocabulary.add_counts(count--);
  }
  context.vocabulary.set_index_from(3);
  context.config = std::string("layers = ") + s.layers + "\n";
  pb::TrainingState state;
  state.set_epoch(1);
  state.set_step_in_epoch(3);
  state.set_global_step(10);
  state.set_seed(1337);
  state.set_world_size(2);
  state.set_batch_size(4);
  state.set_validation_split(0.2);
  auto* h = state.add_history();
  h->set_epoch(1);
  h->set_loss(0.69);
  h->set_val_acc(0.5);
  return train::make_checkpoint(context, model, *optimizer, state);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds DIR\n");
    return 2;
  }
  const std::filesystem::path dir(argv[1]);
  std::filesystem::create_directories(dir / "file");
  std::filesystem::create_directories(dir / "payload");
  const Seed seeds[] = {
      {"lstm", "lstm:3", 12, 4, false, "rmsprop"},
      {"gru_adam", "gru:2", 12, 3, false, "adam"},
      {"simplernn_sgd_masked", "simplernn:2", 11, 2, true, "sgd"},
      {"stacked", "lstm:2,gru:2", 10, 2, false, "rmsprop"},
  };
  for (const auto& s : seeds) {
    const auto c = make_seed(s);
    std::string payload;
    c.SerializeToString(&payload);
    fuzz::write_file((dir / "file" / (std::string(s.name) + ".rnnd")).string(), fuzz::frame(payload));
    fuzz::write_file((dir / "payload" / (std::string(s.name) + ".pb")).string(), payload);
  }
  std::printf("fuzz_make_seeds: %zu checkpoints in %s/{file,payload}\n", std::size(seeds),
              dir.c_str());
  return 0;
}
