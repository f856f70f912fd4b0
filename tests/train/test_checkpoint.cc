// Checkpoint files and the checkpoint folder, broken on purpose (after leveldb's corruption and
// fault-injection tests): every way a file can be damaged must be refused with a message naming
// the file and the damage, and no failed write may destroy the previous good checkpoint.
#include <gtest/gtest.h>
#include <google/protobuf/util/message_differencer.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "tests/common/child_process.h"
#include "tests/common/temp_dir.h"
#include "trainer/model/model.h"
#include "trainer/optim/optimizer.h"
#include "trainer/train/checkpoint_file.h"
#include "trainer/train/checkpointer.h"

namespace rnn_dist::train {
namespace {

namespace fs = std::filesystem;

// File layout offsets (see checkpoint_file.h).
constexpr std::size_t kVersionAt = 8, kLengthAt = 12, kPayloadAt = 20;

using rnn_dist::testing::TempDir;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Files in `dir` whose name contains ".tmp." (leftovers of a failed atomic write).
std::vector<std::string> temp_files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) out.push_back(e.path());
  return out;
}

model::ModelSpec small_spec(const std::string& layers = "lstm:3", int num_words = 20) {
  model::ModelSpec spec;
  spec.num_words = num_words;
  spec.embed_dim = 4;
  spec.layers = model::parse_layers(layers);
  return spec;
}

CheckpointContext context_for(const model::ModelSpec& spec) {
  CheckpointContext c;
  c.model = to_proto(spec);
  c.pipeline.set_maxlen(7);
  c.pipeline.set_padding("pre");
  c.pipeline.set_truncating("pre");
  c.pipeline.mutable_tokenizer()->set_lowercase(true);
  for (const char* w : {"the", "a", "movie", "good", "bad"}) c.vocabulary.add_words(w);
  c.vocabulary.set_index_from(3);
  c.config = "layers = " + model::format_layers(spec.layers) + "\n";
  return c;
}

pb::TrainingState state_at_step(std::uint64_t step) {
  pb::TrainingState s;
  s.set_epoch(1);
  s.set_step_in_epoch(step % 7);
  s.set_global_step(step);
  s.set_seed(1337);
  s.set_world_size(2);
  s.set_batch_size(32);
  s.set_validation_split(0.2);
  return s;
}

// A model with initialised parameters and an optimizer that has taken two steps, so that
// parameters and optimizer slots are all non-trivial.
struct Trained {
  explicit Trained(const model::ModelSpec& spec, const std::string& optimizer = "rmsprop",
                   std::uint64_t seed = 7)
      : model(spec), opt([&] {
          optim::OptimizerConfig c;
          c.name = optimizer;
          return optim::make_optimizer(c, model.params().size());
        }()) {
    model.init(seed);
    std::vector<float> g(model.params().size());
    for (std::size_t i = 0; i < g.size(); ++i) g[i] = 0.01f * float(int(i % 13) - 6);
    opt->step(model.params(), g, 1e-3);
    opt->step(model.params(), g, 1e-3);
  }
  pb::Checkpoint checkpoint(std::uint64_t step = 42) {
    return make_checkpoint(context_for(model.spec()), model, *opt, state_at_step(step));
  }
  model::Model model;
  std::unique_ptr<optim::Optimizer> opt;
};

// The bytes of a checkpoint file of format `version` around `payload` (checkpoint_file.h).
std::string framed(std::uint32_t version, const std::string& payload) {
  std::string b = "RNNDCKPT";
  const std::uint64_t n = payload.size();
  b.append(reinterpret_cast<const char*>(&version), 4);
  b.append(reinterpret_cast<const char*>(&n), 8);
  b += payload;
  const auto c = static_cast<std::uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(n)));
  b.append(reinterpret_cast<const char*>(&c), 4);
  return b;
}

// Expects read_checkpoint_file(path) to throw CheckpointError whose message names the file and
// contains one of `wanted`.
void expect_refused(const std::string& path, std::vector<std::string> wanted,
                    const std::string& what) {
  try {
    read_checkpoint_file(path);
    ADD_FAILURE() << what << ": accepted";
  } catch (const CheckpointError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(path), std::string::npos) << what << ": message does not name the file: " << m;
    bool found = false;
    for (const auto& w : wanted) found = found || m.find(w) != std::string::npos;
    EXPECT_TRUE(found) << what << ": unexpected message: " << m;
  }
}

class CheckpointFile : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_ / "ckpt.rnnd";
    write_checkpoint_file(path_, trained_.checkpoint());
    good_ = read_bytes(path_);
    ASSERT_GT(good_.size(), kPayloadAt + 4);
  }
  std::uint64_t payload_length() const {
    std::uint64_t n;
    std::memcpy(&n, good_.data() + kLengthAt, sizeof n);
    return n;
  }
  TempDir dir_;
  Trained trained_{small_spec()};
  std::string path_, good_;
};

TEST_F(CheckpointFile, RoundTripKeepsEveryField) {
  const auto original = trained_.checkpoint();
  const auto back = read_checkpoint_file(path_);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(original, back))
      << "read back:\n" << back.ShortDebugString().substr(0, 2000);
  EXPECT_EQ(good_.substr(0, 8), "RNNDCKPT");
  EXPECT_EQ(good_.size(), kPayloadAt + payload_length() + 4);
  EXPECT_TRUE(temp_files(dir_.path()).empty());
}

TEST_F(CheckpointFile, RestoreGivesBackParametersAndOptimizerState) {
  Trained other(small_spec(), "rmsprop", /*seed=*/99);
  ASSERT_FALSE(std::equal(other.model.params().begin(), other.model.params().end(),
                          trained_.model.params().begin()));
  restore(read_checkpoint_file(path_), path_, other.model, other.opt.get());
  EXPECT_TRUE(std::equal(other.model.params().begin(), other.model.params().end(),
                         trained_.model.params().begin()));
  const auto a = trained_.opt->slots(), b = other.opt->slots();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(*a[i].second, *b[i].second) << a[i].first;
  EXPECT_EQ(other.opt->iterations(), 2u);
}

TEST_F(CheckpointFile, TruncationAtEveryLengthIsRefused) {
  const std::string cut_path = dir_ / "cut.rnnd";
  for (std::size_t n = 0; n < good_.size(); ++n) {
    write_bytes(cut_path, good_.substr(0, n));
    std::vector<std::string> wanted{"truncated"};
    if (n == 0) wanted = {"is empty"};
    // Fewer than 8 bytes cannot be told from a foreign file.
    else if (n < 8) wanted = {"not an rnn_dist checkpoint"};
    expect_refused(cut_path, wanted, "cut at " + std::to_string(n));
    if (HasFailure()) break;
  }
}

TEST_F(CheckpointFile, OneFlippedBitAnywhereInThePayloadIsRefused) {
  const std::string bad = dir_ / "flipped.rnnd";
  for (std::size_t i = kPayloadAt; i < kPayloadAt + payload_length(); ++i) {
    std::string b = good_;
    b[i] = static_cast<char>(b[i] ^ (1 << (i % 8)));
    write_bytes(bad, b);
    expect_refused(bad, {"damaged (checksum mismatch)"}, "bit " + std::to_string(i % 8) +
                                                              " of byte " + std::to_string(i));
    if (HasFailure()) break;
  }
}

TEST_F(CheckpointFile, FlippedBitsInTheHeaderAndChecksumAreRefused) {
  const std::string bad = dir_ / "flipped.rnnd";
  auto flip = [&](std::size_t byte, int bit, std::vector<std::string> wanted) {
    std::string b = good_;
    b[byte] = static_cast<char>(b[byte] ^ (1 << bit));
    write_bytes(bad, b);
    expect_refused(bad, wanted, "bit " + std::to_string(bit) + " of byte " + std::to_string(byte));
  };
  for (int bit = 0; bit < 64; ++bit) flip(bit / 8, bit % 8, {"not an rnn_dist checkpoint"});
  // A flipped version bit gives 0, a newer format, or an older one that the payload's own
  // version contradicts.
  for (int bit = 0; bit < 32; ++bit) {
    const std::uint32_t v = kCheckpointFormatVersion ^ (std::uint32_t{1} << bit);
    flip(kVersionAt + bit / 8, bit % 8,
         {v == 0 ? "invalid format version 0"
                 : v > kCheckpointFormatVersion ? "newer rnn_dist" : "format version mismatch"});
  }
  // A longer length runs past the end, a shorter one leaves bytes over.
  for (int bit = 0; bit < 64; ++bit)
    flip(kLengthAt + bit / 8, bit % 8, {"truncated", "trailing bytes"});
  for (int bit = 0; bit < 32; ++bit)
    flip(good_.size() - 4 + bit / 8, bit % 8, {"damaged (checksum mismatch)"});
}

TEST_F(CheckpointFile, EmptyForeignAndMissingFilesAreRefused) {
  const std::string f = dir_ / "other.rnnd";
  write_bytes(f, "");
  expect_refused(f, {"is empty"}, "empty file");
  std::mt19937 rng(5);
  std::string noise(4096, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  write_bytes(f, noise);
  expect_refused(f, {"not an rnn_dist checkpoint"}, "random bytes");
  write_bytes(f, std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16) + std::string(100, '\0'));
  expect_refused(f, {"not an rnn_dist checkpoint"}, "PNG header");
  write_bytes(f, "RNNDCKP");
  expect_refused(f, {"not an rnn_dist checkpoint"}, "7 bytes of the magic");
  expect_refused(dir_ / "missing.rnnd", {"cannot open"}, "missing file");
}

TEST_F(CheckpointFile, ADirectoryIsRefusedWithACheckpointError) {
  // `predict --checkpoint DIR`, or a folder named like a checkpoint in --checkpoint-dir.
  const std::string d = dir_ / "ckpt-0000000099.rnnd";
  fs::create_directory(d);
  try {
    read_checkpoint_file(d);
    ADD_FAILURE() << "a directory was accepted";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(d), std::string::npos) << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a CheckpointError: " << e.what();
  }
  std::vector<std::string> warnings;
  std::string found;
  EXPECT_NO_THROW(found = find_latest_valid(dir_.path(),
                                            [&](const std::string& w) { warnings.push_back(w); },
                                            nullptr));
  EXPECT_EQ(warnings.size(), 1u);
}

TEST_F(CheckpointFile, NewerFormatVersionIsRefusedNamingBothVersions) {
  std::string b = good_;
  const std::uint32_t v = kCheckpointFormatVersion + 1;
  std::memcpy(b.data() + kVersionAt, &v, sizeof v);
  write_bytes(path_, b);
  const std::string newer = std::to_string(kCheckpointFormatVersion + 1);
  expect_refused(path_,
                 {"written by a newer rnn_dist (format " + newer + "; this build reads up to " +
                  std::to_string(kCheckpointFormatVersion) + ")"},
                 "version " + newer);
}

TEST_F(CheckpointFile, TrailingGarbageIsRefused) {
  write_bytes(path_, good_ + "x");
  expect_refused(path_, {"trailing bytes"}, "one byte more");
  write_bytes(path_, good_ + good_);
  expect_refused(path_, {"trailing bytes"}, "the file twice");
}

TEST_F(CheckpointFile, ValidFramingAroundABadPayloadIsRefused) {
  // Header and CRC are right, but the payload is not a Checkpoint message.
  write_bytes(path_, framed(1, std::string("\xff\xff\xff\xff", 4)));
  expect_refused(path_, {"payload does not parse"}, "garbage payload");
  // A parsable payload whose inner format version disagrees with the header's.
  auto c = trained_.checkpoint();
  c.set_format_version(0);
  write_bytes(path_, framed(1, c.SerializeAsString()));
  expect_refused(path_, {"inconsistent"}, "inner version 0");
  // Zero-length payload: parses as an empty message with format_version 0.
  write_bytes(path_, framed(1, ""));
  expect_refused(path_, {"inconsistent"}, "empty payload");
}

// ---- Failed writes leave the previous checkpoint intact -----------------------------------------

TEST_F(CheckpointFile, WriteUnderARegularFileFailsWithCheckpointError) {
  // Works as root too (a permission bit would not stop root).
  Trained t(small_spec());
  try {
    write_checkpoint_file(path_ + "/x.rnnd", t.checkpoint());
    ADD_FAILURE() << "write under a regular file succeeded";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("Not a directory"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_bytes(path_), good_);
}

TEST_F(CheckpointFile, FailedTempFileCreationLeavesThePreviousFileIntact) {
  // A directory where the temporary file would go makes open() fail, even for root.
  const std::string tmp = path_ + ".tmp." + std::to_string(::getpid());
  fs::create_directory(tmp);
  Trained t(small_spec(), "rmsprop", 3);
  EXPECT_THROW(write_checkpoint_file(path_, t.checkpoint(99)), CheckpointError);
  EXPECT_EQ(read_bytes(path_), good_);
  fs::remove(tmp);
}

// For a forked child: writes `c` to `path`; 0 if that fails with a CheckpointError naming every
// `wanted` text (test_process::throws_with).
int write_fails_with(const std::string& path, const pb::Checkpoint& c,
                     const std::vector<std::string>& wanted) {
  return test_process::throws_with<CheckpointError>([&] { write_checkpoint_file(path, c); },
                                                   wanted);
}

// A folder the process may not write to (read-only for real also as root: tests/common).
TEST_F(CheckpointFile, ReadOnlyFolderFailsAndLeavesThePreviousFileIntact) {
  Trained t(small_spec(), "rmsprop", 3);
  const auto checkpoint = t.checkpoint(99);
  test_process::expect_fails_in_read_only_folder<CheckpointError>(
      dir_.path(), [&] { write_checkpoint_file(path_, checkpoint); }, {dir_.path()});
  EXPECT_EQ(read_bytes(path_), good_);
  EXPECT_TRUE(temp_files(dir_.path()).empty());
}

TEST_F(CheckpointFile, FailedRenameRemovesTheTemporaryFile) {
  // rename() of a file onto a non-empty directory fails.
  const std::string target = dir_ / "taken.rnnd";
  fs::create_directory(target);
  write_bytes(target + "/keep", "x");
  try {
    write_checkpoint_file(target, trained_.checkpoint());
    ADD_FAILURE() << "rename onto a directory succeeded";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot rename"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(temp_files(dir_.path()).empty());
}

TEST_F(CheckpointFile, FullDiskLeavesThePreviousFileIntactAndNoTemporaryFile) {
  // A checkpoint several times larger than the file size limit the child gets.
  Trained big(small_spec("lstm:64", 2000));
  const auto checkpoint = big.checkpoint(100);
  ASSERT_GT(checkpoint.ByteSizeLong(), 4 * good_.size());
  const rlim_t limit = good_.size() + 1024;
  test_process::expect_child_exits_zero(
      [&] {
        std::signal(SIGXFSZ, SIG_IGN);  // write() then fails with EFBIG, as on a full disk
        rlimit rl{limit, limit};
        if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) return 10;
        return write_fails_with(path_, checkpoint,
                                {"File too large", "(the existing file is unchanged)"});
      },
      "1: wrong message, 2: wrong exception type, 3: the write succeeded, 10: setrlimit failed");
  EXPECT_EQ(read_bytes(path_), good_);
  EXPECT_TRUE(temp_files(dir_.path()).empty()) << temp_files(dir_.path()).front();
}

// ---- restore() refuses another model -------------------------------------------------------------

void expect_restore_refused(const pb::Checkpoint& c, const model::ModelSpec& spec,
                            const std::string& optimizer, std::vector<std::string> wanted) {
  Trained target(spec, optimizer);
  try {
    restore(c, "saved.rnnd", target.model, target.opt.get());
    ADD_FAILURE() << "restored into " << model::format_layers(spec.layers);
  } catch (const CheckpointError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("saved.rnnd does not match this run"), std::string::npos) << m;
    for (const auto& w : wanted) EXPECT_NE(m.find(w), std::string::npos) << "no '" << w << "' in: " << m;
  }
}

TEST(CheckpointRestore, RefusesAnotherModelNamingTheFlags) {
  const auto c = Trained(small_spec("lstm:3", 20)).checkpoint();
  expect_restore_refused(c, small_spec("gru:3", 20), "rmsprop",
                         {"it holds --layers lstm:3", "this run has --layers gru:3"});
  expect_restore_refused(c, small_spec("lstm:5", 20), "rmsprop", {"--layers lstm:3", "--layers lstm:5"});
  expect_restore_refused(c, small_spec("lstm:3,lstm:3", 20), "rmsprop", {"--layers lstm:3,lstm:3"});
  expect_restore_refused(c, small_spec("lstm:3", 30), "rmsprop", {"--num-words 20", "--num-words 30"});
  auto spec = small_spec();
  spec.embed_dim = 5;
  expect_restore_refused(c, spec, "rmsprop", {"--embed 4", "--embed 5"});
  spec = small_spec();
  spec.mask_padding = true;
  expect_restore_refused(c, spec, "rmsprop", {"--mask-padding"});
  expect_restore_refused(c, small_spec(), "adam", {"optimizer 'rmsprop', this run uses 'adam'"});
}

// The GRU's reset_after is part of the model: the checkpoint keeps it, and a run with the other
// GRU is refused naming both.
TEST(CheckpointRestore, KeepsTheGruResetAfterSettingAndRefusesTheOtherGru) {
  const auto before = small_spec("gru:3:reset_after=false", 20);
  const auto c = Trained(before).checkpoint();
  EXPECT_TRUE(c.model().layers(0).reset_before());
  EXPECT_EQ(from_proto(c.model()), before);
  Trained other(before, "rmsprop", /*seed=*/99);
  restore(c, "in-memory", other.model, other.opt.get());
  EXPECT_TRUE(std::equal(other.model.params().begin(), other.model.params().end(),
                         Trained(before).model.params().begin()));
  expect_restore_refused(c, small_spec("gru:3", 20), "rmsprop",
                         {"it holds --layers gru:3:reset_after=false", "this run has --layers gru:3"});
  EXPECT_FALSE(Trained(small_spec("gru:3", 20)).checkpoint().model().layers(0).reset_before());
}

TEST(CheckpointRestore, RefusesTensorsThatDoNotMatchTheSpec) {
  auto c = Trained(small_spec()).checkpoint();
  c.mutable_parameters(1)->mutable_data()->RemoveLast();
  expect_restore_refused(c, small_spec(), "rmsprop", {"tensor 1 is"});
  c = Trained(small_spec()).checkpoint();
  c.mutable_parameters()->RemoveLast();
  expect_restore_refused(c, small_spec(), "rmsprop", {"tensors instead of"});
}

// ---- Optimizer slots follow the layout table ----------------------------------------------------

// lstm:3 on embed 4 leaves alignment padding between tensors: the case the slot format is about.
TEST(CheckpointSlots, HoldOneValuePerParameterInLayoutOrderWithoutThePadding) {
  Trained t(small_spec());
  const auto& layout = t.model.layout();
  ASSERT_GT(layout.buffer_size(), layout.parameter_count());
  const auto c = t.checkpoint();
  const auto slots = t.opt->slots();
  ASSERT_EQ(c.optimizer().slots_size(), static_cast<int>(slots.size()));
  for (int i = 0; i < c.optimizer().slots_size(); ++i) {
    const auto& saved = c.optimizer().slots(i);
    ASSERT_EQ(static_cast<std::size_t>(saved.data_size()), layout.parameter_count())
        << saved.name();
    EXPECT_EQ(saved.shape(0), static_cast<std::int64_t>(layout.parameter_count()));
    const auto& buffer = *slots[static_cast<std::size_t>(i)].second;
    std::size_t at = 0;
    for (const auto& tensor : layout.tensors()) {
      const auto begin = buffer.begin() + static_cast<std::ptrdiff_t>(tensor.offset);
      EXPECT_TRUE(std::equal(begin, begin + static_cast<std::ptrdiff_t>(tensor.size),
                             saved.data().begin() + static_cast<std::ptrdiff_t>(at)))
          << saved.name() << " " << tensor.name;
      at += tensor.size;
    }
  }
}

// Format 1 saved each slot as the whole buffer, every tensor at a multiple of 16 floats, the
// padding zero. Such a file, rebuilt here from the layout's tensors alone, still resumes.
TEST_F(CheckpointFile, AFormat1FileWithPaddedSlotsStillRestores) {
  auto c = trained_.checkpoint();
  c.set_format_version(1);
  const auto slots = trained_.opt->slots();
  for (int i = 0; i < c.optimizer().slots_size(); ++i) {
    const auto& buffer = *slots[static_cast<std::size_t>(i)].second;
    auto* data = c.mutable_optimizer()->mutable_slots(i)->mutable_data();
    data->Clear();
    for (const auto& tensor : trained_.model.layout().tensors()) {
      while (data->size() % 16 != 0) data->Add(0.0f);
      data->Add(buffer.begin() + static_cast<std::ptrdiff_t>(tensor.offset),
                buffer.begin() + static_cast<std::ptrdiff_t>(tensor.offset + tensor.size));
    }
  }
  write_bytes(path_, framed(1, c.SerializeAsString()));
  Trained other(small_spec(), "rmsprop", /*seed=*/99);
  restore(read_checkpoint_file(path_), path_, other.model, other.opt.get());
  EXPECT_TRUE(std::equal(other.model.params().begin(), other.model.params().end(),
                         trained_.model.params().begin()));
  const auto back = other.opt->slots();
  for (std::size_t i = 0; i < slots.size(); ++i)
    EXPECT_EQ(*back[i].second, *slots[i].second) << slots[i].first;
}

TEST(CheckpointSlots, ASlotOfAnotherSizeIsRefusedNamingBothSizes) {
  Trained t(small_spec());
  auto c = t.checkpoint();
  c.mutable_optimizer()->mutable_slots(0)->mutable_data()->RemoveLast();
  const auto n = t.model.layout().parameter_count();
  expect_restore_refused(c, small_spec(), "rmsprop",
                         {"optimizer slot 'v' holds " + std::to_string(n - 1) +
                          " values, expected " + std::to_string(n)});
}

// ---- The checkpoint folder -----------------------------------------------------------------------

TEST(Checkpointer, KeepsOnlyTheNewestK) {
  TempDir dir;
  Trained t(small_spec());
  Checkpointer ck(dir.path(), /*keep=*/2, "", context_for(t.model.spec()));
  write_bytes(dir / "notes.txt", "mine");
  for (std::uint64_t step : {10, 20, 30, 40}) {
    const auto path = ck.save(t.model, *t.opt, state_at_step(step));
    EXPECT_EQ(read_checkpoint_file(path).training().global_step(), step);
  }
  EXPECT_EQ(list_checkpoints(dir.path()),
            (std::vector<std::string>{dir / "ckpt-0000000040.rnnd", dir / "ckpt-0000000030.rnnd"}));
  EXPECT_TRUE(fs::exists(dir / "notes.txt"));
  EXPECT_TRUE(temp_files(dir.path()).empty());
}

// An epoch-end state whose history holds `val_accs` (the last one is the epoch just ended).
pb::TrainingState with_history(std::uint64_t step, std::vector<double> val_accs) {
  auto s = state_at_step(step);
  for (std::size_t i = 0; i < val_accs.size(); ++i) {
    auto* h = s.add_history();
    h->set_epoch(int(i) + 1);
    h->set_val_acc(val_accs[i]);
    h->set_val_loss(1 - val_accs[i]);
  }
  return s;
}

TEST(Checkpointer, BestFollowsTheBestValAcc) {
  TempDir dir;
  Trained t(small_spec());
  Checkpointer ck(dir.path(), 3, "val_acc", context_for(t.model.spec()));
  const std::string best = dir / "best.rnnd";
  std::vector<double> h;
  const std::vector<std::pair<double, bool>> epochs{{0.6, true}, {0.7, true}, {0.65, false},
                                                    {0.7, false}, {0.8, true}, {0.5, false}};
  std::uint64_t best_step = 0;
  for (std::size_t e = 0; e < epochs.size(); ++e) {
    h.push_back(epochs[e].first);
    const std::uint64_t step = 100 * (e + 1);
    EXPECT_EQ(ck.save_if_best(t.model, *t.opt, with_history(step, h), 1 - h.back(), h.back()),
              epochs[e].second) << "epoch " << e + 1;
    if (epochs[e].second) best_step = step;
    EXPECT_EQ(read_checkpoint_file(best).training().global_step(), best_step);
  }
}

TEST(Checkpointer, BestAfterResumeRemembersTheHistory) {
  TempDir dir;
  Trained t(small_spec());
  // A fresh Checkpointer (a resumed run) with epochs 1-2 in the history, 0.9 the best so far.
  Checkpointer ck(dir.path(), 3, "val_acc", context_for(t.model.spec()));
  EXPECT_FALSE(ck.save_if_best(t.model, *t.opt, with_history(300, {0.6, 0.9, 0.7}), 0.3, 0.7));
  EXPECT_FALSE(fs::exists(dir / "best.rnnd"));
  EXPECT_TRUE(ck.save_if_best(t.model, *t.opt, with_history(400, {0.6, 0.9, 0.7, 0.95}), 0.05, 0.95));
  // val_loss: lower is better.
  TempDir dir2;
  Checkpointer by_loss(dir2.path(), 3, "val_loss", context_for(t.model.spec()));
  EXPECT_TRUE(by_loss.save_if_best(t.model, *t.opt, with_history(100, {0.5}), 0.5, 0.5));
  EXPECT_FALSE(by_loss.save_if_best(t.model, *t.opt, with_history(200, {0.5, 0.9}), 0.6, 0.9));
  EXPECT_TRUE(by_loss.save_if_best(t.model, *t.opt, with_history(300, {0.5, 0.9, 0.4}), 0.4, 0.4));
  EXPECT_EQ(read_checkpoint_file(dir2 / "best.rnnd").training().global_step(), 300u);
}

TEST(Checkpointer, FindLatestValidSkipsADamagedNewestFileWithAWarning) {
  TempDir dir;
  Trained t(small_spec());
  Checkpointer ck(dir.path(), 5, "", context_for(t.model.spec()));
  for (std::uint64_t step : {10, 20, 30}) ck.save(t.model, *t.opt, state_at_step(step));
  const std::string newest = dir / "ckpt-0000000030.rnnd";
  fs::resize_file(newest, fs::file_size(newest) / 2);
  std::vector<std::string> warnings;
  auto warn = [&](const std::string& w) { warnings.push_back(w); };
  pb::Checkpoint c;
  EXPECT_EQ(find_latest_valid(dir.path(), warn, &c), dir / "ckpt-0000000020.rnnd");
  EXPECT_EQ(c.training().global_step(), 20u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find(newest), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("truncated"), std::string::npos) << warnings[0];

  // Every file damaged: nothing to resume from, one warning each.
  for (const auto& p : list_checkpoints(dir.path())) write_bytes(p, "garbage");
  warnings.clear();
  EXPECT_EQ(find_latest_valid(dir.path(), warn, &c), "");
  EXPECT_EQ(warnings.size(), 3u);
  // No folder at all.
  warnings.clear();
  EXPECT_EQ(find_latest_valid(dir / "absent", warn, &c), "");
  EXPECT_TRUE(warnings.empty());
}

}  // namespace
}  // namespace rnn_dist::train
