#include "trainer/train/checkpointer.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <regex>

namespace rnn_dist::train {

namespace fs = std::filesystem;

pb::ModelSpec to_proto(const model::ModelSpec& spec) {
  pb::ModelSpec p;
  p.set_num_words(spec.num_words);
  p.set_embed_dim(spec.embed_dim);
  p.set_mask_padding(spec.mask_padding);
  for (const auto& l : spec.layers) {
    auto* layer = p.add_layers();
    layer->set_type(l.type);
    layer->set_units(l.units);
    layer->set_reset_before(!l.reset_after);
  }
  return p;
}

model::ModelSpec from_proto(const pb::ModelSpec& p) {
  model::ModelSpec spec;
  spec.num_words = p.num_words();
  spec.embed_dim = p.embed_dim();
  spec.mask_padding = p.mask_padding();
  spec.layers.clear();
  for (const auto& l : p.layers()) spec.layers.push_back({l.type(), l.units(), !l.reset_before()});
  return spec;
}

data::SequenceOptions sequence_of(const pb::Checkpoint& c) {
  data::SequenceOptions s;
  s.num_words = c.model().num_words();
  s.maxlen = c.pipeline().maxlen();
  s.padding = data::parse_padding(c.pipeline().padding());
  s.truncating = data::parse_padding(c.pipeline().truncating());
  s.validate();
  return s;
}

std::string model_options(const model::ModelSpec& spec) {
  return "--layers " + model::format_layers(spec.layers) + " --embed " +
         std::to_string(spec.embed_dim) + " --num-words " + std::to_string(spec.num_words) +
         (spec.mask_padding ? " --mask-padding" : "");
}

namespace {

// Where each tensor's values start in a saved optimizer slot of a checkpoint of `format_version`,
// and (last) the slot's size. From version 2 a slot holds the tensors one after the other, as the
// parameters are saved; version 1 saved the whole buffer, each tensor aligned to 16 floats.
std::vector<std::size_t> slot_offsets(const model::ParameterLayout& layout,
                                      std::uint32_t format_version) {
  const std::size_t align = format_version == 1 ? 16 : 1;
  std::vector<std::size_t> offsets;
  std::size_t end = 0;
  for (const auto& t : layout.tensors()) {
    offsets.push_back((end + align - 1) / align * align);
    end = offsets.back() + t.size;
  }
  offsets.push_back(end);
  return offsets;
}

}  // namespace

pb::Checkpoint make_checkpoint(const CheckpointContext& context, const model::Model& model,
                               optim::Optimizer& optimizer, const pb::TrainingState& state) {
  pb::Checkpoint c;
  c.set_format_version(kCheckpointFormatVersion);
  *c.mutable_model() = context.model;
  *c.mutable_pipeline() = context.pipeline;
  *c.mutable_vocabulary() = context.vocabulary;
  c.set_config(context.config);
  const auto params = model.params();
  for (const auto& t : model.layout().tensors()) {
    auto* tensor = c.add_parameters();
    tensor->set_name(t.name);
    for (auto d : t.shape) tensor->add_shape(d);
    tensor->mutable_data()->Add(params.begin() + static_cast<std::ptrdiff_t>(t.offset),
                                params.begin() + static_cast<std::ptrdiff_t>(t.offset + t.size));
  }
  auto* opt = c.mutable_optimizer();
  const auto& cfg = optimizer.config();
  opt->set_name(cfg.name);
  opt->set_iterations(optimizer.iterations());
  for (const auto& [name, value] : optim::hyperparameters(cfg))
    (*opt->mutable_hyper())[name] = value;
  for (const auto& [name, buffer] : optimizer.slots()) {
    auto* slot = opt->add_slots();
    slot->set_name(name);
    slot->add_shape(static_cast<std::int64_t>(model.layout().parameter_count()));
    for (const auto& t : model.layout().tensors())
      slot->mutable_data()->Add(buffer->begin() + static_cast<std::ptrdiff_t>(t.offset),
                                buffer->begin() + static_cast<std::ptrdiff_t>(t.offset + t.size));
  }
  *c.mutable_training() = state;
  return c;
}

void restore(const pb::Checkpoint& c, const std::string& source, model::Model& model,
             optim::Optimizer* optimizer) {
  auto fail = [&](const std::string& what) {
    throw CheckpointError("checkpoint " + source + " does not match this run: " + what);
  };
  const auto spec = from_proto(c.model());
  if (spec != model.spec())
    fail("it holds " + model_options(spec) + ", this run has " + model_options(model.spec()));
  const auto& tensors = model.layout().tensors();
  if (static_cast<std::size_t>(c.parameters_size()) != tensors.size())
    fail(std::to_string(c.parameters_size()) + " tensors instead of " + std::to_string(tensors.size()));
  auto params = model.params();
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& want = tensors[i];
    const auto& got = c.parameters(static_cast<int>(i));
    const std::vector<std::int64_t> shape(got.shape().begin(), got.shape().end());
    if (got.name() != want.name || shape != want.shape ||
        static_cast<std::size_t>(got.data_size()) != want.size)
      fail("tensor " + std::to_string(i) + " is '" + got.name() + "', expected '" + want.name +
           "' of the same shape");
    std::copy(got.data().begin(), got.data().end(), params.begin() + static_cast<std::ptrdiff_t>(want.offset));
  }
  if (!optimizer) return;
  const auto& opt = c.optimizer();
  if (opt.name() != optimizer->config().name)
    fail("optimizer '" + opt.name() + "', this run uses '" + optimizer->config().name + "'");
  auto slots = optimizer->slots();
  if (static_cast<std::size_t>(opt.slots_size()) != slots.size()) fail("optimizer state slots differ");
  const auto& layout = model.layout();
  const auto from = slot_offsets(layout, c.format_version());
  for (std::size_t i = 0; i < slots.size(); ++i) {
    const auto& got = opt.slots(static_cast<int>(i));
    if (got.name() != slots[i].first) fail("optimizer slot '" + got.name() + "' differs");
    if (static_cast<std::size_t>(got.data_size()) != from.back())
      fail("optimizer slot '" + got.name() + "' holds " + std::to_string(got.data_size()) +
           " values, expected " + std::to_string(from.back()));
    auto& buffer = *slots[i].second;
    for (std::size_t k = 0; k < tensors.size(); ++k)
      std::copy_n(got.data().begin() + static_cast<std::ptrdiff_t>(from[k]), tensors[k].size,
                  buffer.begin() + static_cast<std::ptrdiff_t>(tensors[k].offset));
  }
  optimizer->set_iterations(opt.iterations());
}

Checkpointer::Checkpointer(std::string dir, int keep, std::string best_metric,
                           CheckpointContext context)
    : dir_(std::move(dir)), keep_(std::max(1, keep)), best_metric_(std::move(best_metric)),
      context_(std::move(context)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw CheckpointError("cannot create checkpoint folder " + dir_ + ": " + ec.message());
  // Temporary files of a writer that was killed mid-write: never valid, remove them.
  static const std::regex stale(R"((ckpt-\d+|best)\.rnnd\.tmp\.\d+)");
  for (const auto& entry : fs::directory_iterator(dir_, ec))
    if (std::regex_match(entry.path().filename().string(), stale)) fs::remove(entry.path(), ec);
}

std::string Checkpointer::save(const model::Model& model, optim::Optimizer& optimizer,
                               const pb::TrainingState& state,
                               const std::function<void()>& before_rename) {
  char name[64];
  std::snprintf(name, sizeof name, "ckpt-%010llu.rnnd",
                static_cast<unsigned long long>(state.global_step()));
  const std::string path = dir_ + "/" + name;
  try {
    write_checkpoint_file(path, make_checkpoint(context_, model, optimizer, state), before_rename);
  } catch (const CheckpointError& e) {
    // Say what is left to resume from (a full disk on the first checkpoint leaves nothing).
    const auto earlier = list_checkpoints(dir_);
    throw CheckpointError(std::string(e.what()) +
                          (earlier.empty() ? "; " + dir_ + " holds no earlier checkpoint"
                                           : "; earlier checkpoints are untouched (newest: " +
                                                 earlier.front() + ")"));
  }
  const auto all = list_checkpoints(dir_);
  for (std::size_t i = static_cast<std::size_t>(keep_); i < all.size(); ++i) {
    std::error_code ec;
    fs::remove(all[i], ec);
  }
  return path;
}

bool Checkpointer::save_if_best(const model::Model& model, optim::Optimizer& optimizer,
                                const pb::TrainingState& state, double val_loss, double val_acc) {
  if (best_metric_.empty()) return false;
  const bool higher = best_metric_ == "val_acc";
  const double value = higher ? val_acc : val_loss;
  if (!best_) {
    // On resume, the best so far is in the history (all epochs but the current one).
    for (int i = 0; i + 1 < state.history_size(); ++i) {
      const auto& h = state.history(i);
      const double v = higher ? h.val_acc() : h.val_loss();
      if (!best_ || (higher ? v > *best_ : v < *best_)) best_ = v;
    }
  }
  if (best_ && !(higher ? value > *best_ : value < *best_)) return false;
  best_ = value;
  write_checkpoint_file(dir_ + "/best.rnnd", make_checkpoint(context_, model, optimizer, state));
  return true;
}

std::vector<std::string> list_checkpoints(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  static const std::regex pattern(R"(ckpt-(\d+)\.rnnd)");
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    if (std::regex_match(name, pattern)) out.push_back(entry.path().string());
  }
  // Zero-padded step numbers: lexicographic order is step order.
  std::sort(out.begin(), out.end(), std::greater<>());
  return out;
}

std::string find_latest_valid(const std::string& dir,
                              const std::function<void(const std::string&)>& warn,
                              pb::Checkpoint* out) {
  for (const auto& path : list_checkpoints(dir)) {
    try {
      auto c = read_checkpoint_file(path);
      if (out) *out = std::move(c);
      return path;
    } catch (const CheckpointError& e) {
      warn(std::string("skipping ") + e.what());
    }
  }
  return "";
}

}  // namespace rnn_dist::train
