// TensorBoard events files: CRC-32C, TFRecord framing, damaged files, and the purge of a resumed
// run's later events. tests/e2e/tensorboard.sh checks real runs with an independent reader.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/common/child_process.h"
#include "tests/common/temp_dir.h"
#include "trainer/train/tensorboard.h"

namespace rnn_dist::train {
namespace {

namespace fs = std::filesystem;

using rnn_dist::testing::TempDir;

std::vector<fs::path> files_in(const std::string& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

// (step, what) of every event of `path`: the tag of a summary's first value, "version", "start".
std::vector<std::pair<std::int64_t, std::string>> events_of(const fs::path& path) {
  const auto scan = read_records(path.string());
  EXPECT_EQ(scan.problem, "") << path;
  std::vector<std::pair<std::int64_t, std::string>> out;
  for (const auto& r : scan.records) {
    tensorboard::Event e;
    EXPECT_TRUE(e.ParseFromString(r));
    const std::string what = e.has_file_version()  ? e.file_version()
                             : e.has_session_log() ? "start"
                                                   : e.summary().value(0).tag();
    out.emplace_back(e.step(), what);
  }
  return out;
}

TEST(Crc32c, MatchesTheCheckValue) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
  const std::uint32_t crc = crc32c("123456789");
  EXPECT_EQ(masked_crc32c("123456789"), ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
}

TEST(TfRecord, FramesLengthCrcDataCrc) {
  const std::string record = frame_record("abc");
  ASSERT_EQ(record.size(), 8u + 4u + 3u + 4u);
  EXPECT_EQ(record.substr(0, 8), std::string("\x03\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(record.substr(12, 3), "abc");
}

TEST(TfRecord, ReadingStopsAtADamagedOrTruncatedRecord) {
  TempDir dir;
  const std::string path = dir.path() + "/records";
  const std::string good = frame_record("first") + frame_record("second");
  std::ofstream(path, std::ios::binary) << good;
  EXPECT_EQ(read_records(path).records, (std::vector<std::string>{"first", "second"}));

  std::string flipped = good;
  flipped[good.size() - 6] ^= 0x01;  // a byte of "second"
  std::ofstream(path, std::ios::binary | std::ios::trunc) << flipped;
  auto scan = read_records(path);
  EXPECT_EQ(scan.records, std::vector<std::string>{"first"});
  EXPECT_EQ(scan.problem, "record data fails its CRC at byte 21");

  std::ofstream(path, std::ios::binary | std::ios::trunc) << good.substr(0, good.size() - 3);
  scan = read_records(path);
  EXPECT_EQ(scan.records, std::vector<std::string>{"first"});
  EXPECT_EQ(scan.problem, "truncated record at byte 21");
}

TEST(TensorBoardWriter, WritesVersionStepSummariesAndEpochs) {
  TempDir dir;
  {
    TensorBoardWriter w({dir.path(), 2}, std::nullopt, [](const std::string& m) { FAIL() << m; });
    const auto name = fs::path(w.path()).filename().string();
    EXPECT_EQ(name.rfind("events.out.tfevents.", 0), 0u) << name;
    for (std::uint64_t s = 1; s <= 4; ++s) w.on_step(s, 0.5, 0.75);
    EpochMetrics row;
    row.loss = 0.25;
    w.on_epoch(4, row, 1e-3);
  }
  const auto files = files_in(dir.path());
  ASSERT_EQ(files.size(), 1u);
  const std::vector<std::pair<std::int64_t, std::string>> want{
      {0, "brain.Event:2"}, {2, "batch_loss"}, {4, "batch_loss"}, {4, "epoch_loss"}};
  EXPECT_EQ(events_of(files[0]), want);
}

TEST(TensorBoardWriter, AResumedRunRemovesTheEventsAfterItsCheckpoint) {
  TempDir dir;
  auto no_warning = [](const std::string& m) { FAIL() << m; };
  {
    TensorBoardWriter first({dir.path(), 1}, std::nullopt, no_warning);
    for (std::uint64_t s = 1; s <= 7; ++s) first.on_step(s, 0.5, 0.5);
  }
  const auto before = files_in(dir.path());
  ASSERT_EQ(before.size(), 1u);
  {
    // The job died after step 7; its newest checkpoint was at step 5.
    TensorBoardWriter resumed({dir.path(), 1}, 5, no_warning);
    resumed.on_step(6, 0.5, 0.5);
  }
  const auto files = files_in(dir.path());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0], before[0]);  // the old file sorts first
  std::vector<std::int64_t> steps;
  for (const auto& [step, what] : events_of(files[0])) steps.push_back(step);
  EXPECT_EQ(steps, (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5}));
  const std::vector<std::pair<std::int64_t, std::string>> want{
      {0, "brain.Event:2"}, {6, "start"}, {6, "batch_loss"}};
  EXPECT_EQ(events_of(files[1]), want);
}

TEST(TensorBoardWriter, WarnsWhenAFreshRunFindsEventsFiles) {
  TempDir dir;
  {
    TensorBoardWriter first({dir.path(), 1}, std::nullopt, [](const std::string&) {});
  }
  std::string warning;
  TensorBoardWriter second({dir.path(), 1}, std::nullopt,
                           [&](const std::string& m) { warning = m; });
  EXPECT_NE(warning.find("already holds events files"), std::string::npos) << warning;
  EXPECT_EQ(files_in(dir.path()).size(), 2u);  // nothing removed, the new file has its own name
}

TEST(TensorBoardWriter, AFullDiskEndsTheFileWithAWholeRecordAndSaysSo) {
  TempDir dir;
  test_process::expect_child_exits_zero(
      [&] {
        TensorBoardWriter w({dir.path(), 1}, std::nullopt, [](const std::string&) {});
        std::signal(SIGXFSZ, SIG_IGN);  // write() then fails with EFBIG, as on a full disk
        // Room for a record and a half more: the second is cut off inside.
        const rlim_t limit = fs::file_size(w.path()) + 90;
        rlimit rl{limit, limit};
        if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) return 10;
        try {
          for (std::uint64_t s = 1; s <= 100; ++s) w.on_step(s, 0.5, 0.5);
          return 3;
        } catch (const std::runtime_error& e) {
          const std::string m = e.what();
          if (m.find("cannot write " + w.path() + ": File too large") == std::string::npos)
            return 1;
        }
        const auto scan = read_records(w.path());
        return scan.problem.empty() && scan.records.size() == 2 ? 0 : 4;
      },
      "1: wrong message, 3: every write succeeded, 4: not exactly the version record and one "
      "step whole, 10: setrlimit failed");
}

}  // namespace
}  // namespace rnn_dist::train
