#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "tests/common/child_process.h"
#include "tests/data/test_util.h"
#include "trainer/data/format.h"
#include "trainer/data/imdb_reader.h"
#include "trainer/data/prepared_dataset.h"
#include "trainer/data/rng.h"
#include "trainer/data/tokenizer.h"

namespace rnn_dist::data {
namespace {

namespace fs = std::filesystem;
using testing::expect_data_error;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

class PreparedDatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    aclimdb_ = testing::write_small_aclimdb(dir_.path());
    prepared_ = dir_ / "small.rnn_dist";
    prepare(aclimdb_, prepared_);
  }

  // Writes `bytes` as a file and returns its path.
  std::string damaged(std::string_view name, const std::string& bytes) {
    const std::string path = dir_ / name;
    write_file(path, bytes);
    return path;
  }

  TempDir dir_;
  std::string aclimdb_, prepared_;
};

TEST_F(PreparedDatasetTest, RoundTripsASmallAclImdbFolder) {
  const PreparedDataset ds(prepared_);
  const SplitView train = ds.split("train");
  ASSERT_EQ(train.size(), 5u);
  // pos sorted by id (0, 2, 10), then neg (1, 3).
  EXPECT_EQ(std::vector<uint8_t>(
                {train.label(0), train.label(1), train.label(2), train.label(3), train.label(4)}),
            (std::vector<uint8_t>{1, 1, 1, 0, 0}));
  EXPECT_EQ(std::vector<uint8_t>({train.rating(0), train.rating(1), train.rating(2),
                                  train.rating(3), train.rating(4)}),
            (std::vector<uint8_t>{9, 7, 8, 1, 4}));
  // Every review re-encoded with the stored vocabulary gives the stored ids.
  const auto files = list_split(aclimdb_, "train");
  for (size_t i = 0; i < files.size(); ++i) {
    const auto ids = ds.vocabulary().encode_text(read_file(files[i].path), ds.header().tokenizer());
    const auto stored = train.tokens(i);
    EXPECT_EQ(std::vector<uint32_t>(stored.begin(), stored.end()), ids) << files[i].path;
    EXPECT_EQ(train.length(i), ids.size());
  }
  // "the" (5 times) leads; "bad" and "great" (4 times each) tie and are ordered by bytes.
  EXPECT_EQ(ds.vocabulary().id("the"), 4u);
  EXPECT_EQ(ds.vocabulary().id("bad"), 5u);
  EXPECT_EQ(ds.vocabulary().id("great"), 6u);
  EXPECT_EQ(ds.vocabulary().counts()[0], 5u);
  const SplitView test = ds.split("test");
  ASSERT_EQ(test.size(), 4u);
  const auto first = test.tokens(0);  // "Great acting, unseen words here."
  EXPECT_EQ(std::vector<uint32_t>(first.begin(), first.end()),
            (std::vector<uint32_t>{1, 6, 2, 2, 2, 2}));
  EXPECT_EQ(ds.header().source_fingerprint(), source_fingerprint(aclimdb_));
  EXPECT_EQ(ds.header().tokenizer().version(), kTokenizerVersion);
  expect_data_error([&] { ds.split("validation"); }, {"validation", prepared_});
}

TEST_F(PreparedDatasetTest, MovedDatasetKeepsItsViews) {
  PreparedDataset a(prepared_);
  PreparedDataset b(std::move(a));
  EXPECT_EQ(b.split("train").name(), "train");
  EXPECT_EQ(b.split("test").tokens(3)[0], kStartId);
}

TEST_F(PreparedDatasetTest, ArraysAreAlignedTo64Bytes) {
  const PreparedDataset ds(prepared_);
  for (const auto& info : ds.header().splits()) {
    EXPECT_EQ(info.labels_offset() % 64, 0u);
    EXPECT_EQ(info.ratings_offset() % 64, 0u);
    EXPECT_EQ(info.row_offsets_offset() % 64, 0u);
    EXPECT_EQ(info.tokens_offset() % 64, 0u);
  }
  EXPECT_EQ(reinterpret_cast<uintptr_t>(ds.split("train").tokens(0).data()) % 64, 0u);
}

TEST_F(PreparedDatasetTest, RefusesTruncatedFile) {
  const std::string bytes = read_file(prepared_);
  for (size_t keep : {bytes.size() - 1, bytes.size() / 2, size_t{30}, size_t{10}}) {
    expect_data_error([&] { PreparedDataset d(damaged("cut", bytes.substr(0, keep))); },
                      {"truncated", dir_ / "cut"});
  }
}

TEST_F(PreparedDatasetTest, RefusesAFlippedByteInTheHeader) {
  std::string bytes = read_file(prepared_);
  bytes[kFixedPrefixBytes + 5] ^= 0x01;
  expect_data_error([&] { PreparedDataset d(damaged("h", bytes)); },
                    {"header checksum mismatch", dir_ / "h"});
}

TEST_F(PreparedDatasetTest, RefusesAFlippedByteInTheData) {
  std::string bytes = read_file(prepared_);
  bytes[bytes.size() - 3] ^= 0x40;  // inside the test split's tokens
  expect_data_error([&] { PreparedDataset d(damaged("d", bytes)); },
                    {"data checksum mismatch", "test", dir_ / "d"});
}

TEST_F(PreparedDatasetTest, RefusesForeignAndEmptyFiles) {
  std::string noise(4096, '\0');
  Rng rng(3);
  for (char& c : noise) c = static_cast<char>(rng.below(256));
  expect_data_error([&] { PreparedDataset d(damaged("noise", noise)); },
                    {"not an rnn_dist prepared dataset", dir_ / "noise"});
  expect_data_error([&] { PreparedDataset d(damaged("empty", "")); },
                    {"not an rnn_dist prepared dataset", dir_ / "empty"});
  expect_data_error([&] { PreparedDataset d(dir_ / "nonexistent"); }, {dir_ / "nonexistent"});
}

TEST_F(PreparedDatasetTest, RefusesANewerFormatVersion) {
  std::string bytes = read_file(prepared_);
  const uint32_t version = kPreparedFormatVersion + 1;
  std::memcpy(bytes.data() + 8, &version, sizeof version);
  expect_data_error(
      [&] { PreparedDataset d(damaged("v2", bytes)); },
      {"has format version 2; this build reads 1 (re-run rnn_dist prepare)", dir_ / "v2"});
}

TEST_F(PreparedDatasetTest, PrepareIntoAnUnwritablePathLeavesNothing) {
  const std::string out = dir_ / "no_such_folder/out.rnn_dist";
  expect_data_error([&] { prepare(aclimdb_, out); }, {"no_such_folder"});
  EXPECT_FALSE(fs::exists(dir_ / "no_such_folder"));
  // A folder it may not write in (read-only for real also as root: tests/common).
  const std::string locked = dir_ / "locked";
  fs::create_directory(locked);
  test_process::expect_fails_in_read_only_folder<DataError>(
      locked, [&] { prepare(aclimdb_, locked + "/out.rnn_dist"); }, {locked});
  EXPECT_TRUE(fs::is_empty(locked));
}

TEST_F(PreparedDatasetTest, FailedPrepareLeavesNoFileAndKeepsTheOldOne) {
  write_file(aclimdb_ + "/test/neg/9_1.txt", "\xff\xfe broken");
  const std::string before = read_file(prepared_);
  expect_data_error([&] { prepare(aclimdb_, prepared_); }, {"invalid UTF-8", "9_1.txt"});
  EXPECT_EQ(read_file(prepared_), before);
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
  }
}

// Bad source folders: each error names the path at fault.
class BadSourceTest : public ::testing::Test {
 protected:
  void SetUp() override { aclimdb_ = testing::write_small_aclimdb(dir_.path()); }
  void expect_prepare_fails(std::initializer_list<std::string_view> needles) {
    expect_data_error([&] { prepare(aclimdb_, dir_ / "out.rnn_dist"); }, needles);
    EXPECT_FALSE(fs::exists(dir_ / "out.rnn_dist"));
  }
  TempDir dir_;
  std::string aclimdb_;
};

TEST_F(BadSourceTest, MissingFolder) {
  aclimdb_ = dir_ / "nowhere";
  expect_prepare_fails({"not found", dir_ / "nowhere"});
}

TEST_F(BadSourceTest, MissingSplit) {
  fs::remove_all(aclimdb_ + "/test");
  expect_prepare_fails({"no test/ folder", aclimdb_ + "/test"});
}

TEST_F(BadSourceTest, SplitWithoutNeg) {
  fs::remove_all(aclimdb_ + "/train/neg");
  expect_prepare_fails({"aclImdb/train has no neg/ folder", aclimdb_ + "/train"});
}

TEST_F(BadSourceTest, EmptyLabelFolder) {
  fs::remove_all(aclimdb_ + "/test/pos");
  fs::create_directory(aclimdb_ + "/test/pos");
  expect_prepare_fails({"no .txt files", aclimdb_ + "/test/pos"});
}

TEST_F(BadSourceTest, EmptyReview) {
  write_file(aclimdb_ + "/train/neg/8_2.txt", "");
  expect_prepare_fails({"empty review", aclimdb_ + "/train/neg/8_2.txt"});
  write_file(aclimdb_ + "/train/neg/8_2.txt", "<br /> ... !!");
  expect_prepare_fails({"empty review", aclimdb_ + "/train/neg/8_2.txt"});
}

TEST_F(BadSourceTest, InvalidUtf8) {
  write_file(aclimdb_ + "/train/pos/11_8.txt", "good \xc3\x28 film");
  expect_prepare_fails({"invalid UTF-8 at byte 5", aclimdb_ + "/train/pos/11_8.txt"});
}

TEST_F(BadSourceTest, BadRatingFileName) {
  for (const char* name : {"12_11.txt", "12.txt", "x_3.txt", "12_0.txt", "_3.txt", "12_3x.txt"}) {
    const std::string path = aclimdb_ + "/train/pos/" + name;
    write_file(path, "fine text");
    expect_prepare_fails({"<id>_<rating>.txt", path});
    fs::remove(path);
  }
}

TEST_F(BadSourceTest, IgnoresFilesThatAreNotReviews) {
  write_file(aclimdb_ + "/train/pos/notes.md", "ignored");
  write_file(aclimdb_ + "/train/urls_pos.txt", "ignored");
  EXPECT_NO_THROW(prepare(aclimdb_, dir_ / "out.rnn_dist"));
}

TEST(EnsurePrepared, BuildsTheCacheNextToAclImdbAndReusesIt) {
  TempDir dir;
  const std::string aclimdb = testing::write_small_aclimdb(dir.path());
  const std::string cache = ensure_prepared(dir.path());  // the folder holding aclImdb/
  EXPECT_EQ(cache, fs::canonical(dir.path()).string() + "/aclImdb.rnn_dist");
  const auto mtime = fs::last_write_time(cache);
  EXPECT_EQ(ensure_prepared(aclimdb), cache);
  EXPECT_EQ(fs::last_write_time(cache), mtime) << "a valid cache was rebuilt";
  EXPECT_EQ(ensure_prepared(cache), cache);  // a prepared file is used as it is
}

TEST(EnsurePrepared, RebuildsWhenTheSourceChangesOrTheCacheIsDamaged) {
  TempDir dir;
  const std::string aclimdb = testing::write_small_aclimdb(dir.path());
  const std::string cache = ensure_prepared(aclimdb);
  write_file(aclimdb + "/test/pos/9_9.txt", "another great film");
  ensure_prepared(aclimdb);
  EXPECT_EQ(PreparedDataset(cache).split("test").size(), 5u);
  std::string bytes = read_file(cache);
  bytes[bytes.size() - 2] ^= 1;
  write_file(cache, bytes);
  ensure_prepared(aclimdb);
  EXPECT_NO_THROW(PreparedDataset{cache});
}

TEST(EnsurePrepared, NamesThePathWhenThereIsNoData) {
  TempDir dir;
  expect_data_error([&] { ensure_prepared(dir / "missing"); },
                    {"no IMDB data at " + (dir / "missing"), "launch/get_imdb.sh", "--data"});
  expect_data_error([&] { ensure_prepared(dir.path()); }, {"no IMDB data at " + dir.path()});
}

// data_path_problem names what is missing, from the file system alone.
TEST(DataPathProblem, NamesWhatIsMissing) {
  TempDir dir;
  const std::string aclimdb = testing::write_small_aclimdb(dir.path());
  EXPECT_EQ(data_path_problem(aclimdb), "");
  EXPECT_EQ(data_path_problem(dir.path()), "") << "a folder holding aclImdb/";
  EXPECT_EQ(data_path_problem(dir / "missing"), "no such file or folder");
  write_file(dir / "file", "x");
  EXPECT_EQ(data_path_problem(dir / "file"), "") << "files are checked when opened";
  const auto starts = [](const std::string& s, const std::string& prefix) {
    return s.rfind(prefix, 0) == 0 && s.find("(expected an aclImdb folder") != std::string::npos;
  };
  std::filesystem::create_directories(dir / "empty");
  EXPECT_PRED2(starts, data_path_problem(dir / "empty"), "no train/ or test/ folder ");
  std::filesystem::remove_all(aclimdb + "/test/neg");
  EXPECT_PRED2(starts, data_path_problem(aclimdb), "no test/neg/ folder ");
  EXPECT_PRED2(starts, data_path_problem(dir.path()), "no aclImdb/test/neg/ folder ");
  std::filesystem::create_directories(aclimdb + "/test/neg");
  EXPECT_PRED2(starts, data_path_problem(aclimdb), "no .txt review in test/neg/ ");
  std::filesystem::remove_all(aclimdb + "/test");
  std::filesystem::remove_all(aclimdb + "/train/pos");
  EXPECT_PRED2(starts, data_path_problem(aclimdb), "no train/pos/ or test/ folder ");
}

}  // namespace
}  // namespace rnn_dist::data
