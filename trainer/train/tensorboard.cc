#include "trainer/train/tensorboard.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/crc.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "trainer/train/file_io.h"

namespace rnn_dist::train {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kHeader = 12;  // uint64 length + uint32 masked CRC of it
constexpr std::size_t kFooter = 4;   // uint32 masked CRC of the data

std::string le_bytes(std::uint64_t value, int n) {
  std::string out(static_cast<std::size_t>(n), '\0');
  for (int i = 0; i < n; ++i)
    out[static_cast<std::size_t>(i)] = static_cast<char>(value >> (8 * i));
  return out;
}

std::uint64_t from_le(std::string_view bytes) {
  std::uint64_t value = 0;
  for (std::size_t i = bytes.size(); i-- > 0;)
    value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

std::string errno_text() { return std::strerror(errno); }

// The events files of `dir`, as TensorBoard finds them ("tfevents" in the name), sorted by name
// (the order TensorBoard reads them in).
std::vector<fs::path> events_files(const std::string& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_regular_file(ec) &&
        entry.path().filename().string().find("tfevents") != std::string::npos)
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

// Replaces `file` by `bytes` through a temporary file (whose name TensorBoard does not read),
// synced before the rename, so that a crash leaves the old file or the new one.
void replace_file(const fs::path& file, const std::string& bytes) {
  const std::string tmp = (file.parent_path() / ".rnn_dist_events.tmp").string();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const bool ok = fd >= 0 && write_all(fd, bytes) && ::fsync(fd) == 0;
  const std::string why = errno_text();
  if (fd >= 0) ::close(fd);
  if (!ok || ::rename(tmp.c_str(), file.c_str()) != 0) {
    ::unlink(tmp.c_str());
    throw std::runtime_error("--tensorboard: cannot rewrite " + file.string() + ": " + why);
  }
}

// Removes the events of steps > `step` from `file` (the file_version event stays), rewriting it
// only when there is something to remove. A damaged tail is named through `warn`, and dropped
// with the rest when the file is rewritten.
void purge_after(const fs::path& file, std::uint64_t step, const TensorBoardWriter::Warn& warn) {
  const RecordScan scan = read_records(file.string());
  if (!scan.problem.empty())
    warn("--tensorboard: " + file.string() + ": " + scan.problem +
         " (TensorBoard reads the records before it)");
  std::string kept;
  bool dropped = false;
  for (const auto& record : scan.records) {
    tensorboard::Event event;
    if (event.ParseFromString(record) && !event.has_file_version() &&
        event.step() > static_cast<std::int64_t>(step)) {
      dropped = true;
      continue;
    }
    kept += frame_record(record);
  }
  if (dropped) replace_file(file, kept);
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// Opens a new events file for appending; O_EXCL, so that a run started within the same second
// as the previous one on the same host gets a name of its own (".1", ".2", ... sort after it).
int create_events_file(const std::string& dir, std::string& path) {
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%010lld", static_cast<long long>(std::time(nullptr)));
  const std::string base = dir + "/events.out.tfevents." + stamp + "." + host_name();
  for (int n = 0; n < 1000; ++n) {
    path = n == 0 ? base : base + "." + std::to_string(n);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) return fd;
    if (errno != EEXIST) break;
  }
  throw std::runtime_error("--tensorboard: cannot create " + path + ": " + errno_text());
}

}  // namespace

std::uint32_t crc32c(std::string_view bytes) {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

std::uint32_t masked_crc32c(std::string_view bytes) {
  const std::uint32_t crc = crc32c(bytes);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::string frame_record(std::string_view data) {
  const std::string length = le_bytes(data.size(), 8);
  std::string out = length + le_bytes(masked_crc32c(length), 4);
  out.append(data);
  out += le_bytes(masked_crc32c(data), 4);
  return out;
}

RecordScan read_records(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("--tensorboard: cannot read " + path + ": " + errno_text());
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string_view all(bytes);
  RecordScan scan;
  std::size_t pos = 0;
  auto fail = [&](const std::string& what) {
    scan.problem = what + " at byte " + std::to_string(pos);
    return scan;
  };
  while (pos < all.size()) {
    const std::size_t left = all.size() - pos;
    if (left < kHeader) return fail("truncated record header");
    const std::uint64_t length = from_le(all.substr(pos, 8));
    if (masked_crc32c(all.substr(pos, 8)) != from_le(all.substr(pos + 8, 4)))
      return fail("record length fails its CRC");
    if (length > left - kHeader || left - kHeader - length < kFooter)
      return fail("truncated record");
    const std::string_view data = all.substr(pos + kHeader, length);
    if (masked_crc32c(data) != from_le(all.substr(pos + kHeader + length, kFooter)))
      return fail("record data fails its CRC");
    scan.records.emplace_back(data);
    pos += kHeader + length + kFooter;
  }
  return scan;
}

TensorBoardWriter::TensorBoardWriter(const TensorBoardOptions& options,
                                     std::optional<std::uint64_t> resumed_step, const Warn& warn)
    : every_(options.every) {
  if (resumed_step) {
    for (const auto& file : events_files(options.dir)) purge_after(file, *resumed_step, warn);
  } else if (!events_files(options.dir).empty()) {
    warn("--tensorboard " + options.dir +
         " already holds events files: TensorBoard draws this run's curves over theirs (give "
         "each run a folder of its own; --resume continues a run's curves)");
  }
  fd_ = create_events_file(options.dir, path_);
  tensorboard::Event version;
  version.set_file_version("brain.Event:2");
  write_event(version);
  if (resumed_step) {
    tensorboard::Event start;
    start.set_step(static_cast<std::int64_t>(*resumed_step + 1));
    start.mutable_session_log()->set_status(tensorboard::SessionLog::START);
    write_event(start);
  }
}

TensorBoardWriter::~TensorBoardWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void TensorBoardWriter::on_step(std::uint64_t step, double running_loss, double running_acc) {
  if (step % static_cast<std::uint64_t>(every_) != 0) return;
  write_scalars(step, {{"batch_loss", running_loss}, {"batch_acc", running_acc}});
}

void TensorBoardWriter::on_epoch(std::uint64_t step, const EpochMetrics& row,
                                 double learning_rate) {
  std::vector<std::pair<std::string, double>> values{{"epoch_loss", row.loss},
                                                     {"epoch_acc", row.acc}};
  if (row.has_val) {
    values.emplace_back("epoch_val_loss", row.val_loss);
    values.emplace_back("epoch_val_acc", row.val_acc);
  }
  values.emplace_back("epoch_learning_rate", learning_rate);
  values.emplace_back("epoch_examples_per_second", row.examples_per_second);
  write_scalars(step, values);
  if (::fdatasync(fd_) != 0)
    throw std::runtime_error("--tensorboard: cannot write " + path_ + ": " + errno_text());
}

void TensorBoardWriter::write_scalars(std::uint64_t step,
                                      const std::vector<std::pair<std::string, double>>& values) {
  tensorboard::Event event;
  event.set_step(static_cast<std::int64_t>(step));
  for (const auto& [tag, value] : values) {
    auto* v = event.mutable_summary()->add_value();
    v->set_tag(tag);
    v->set_simple_value(static_cast<float>(value));
  }
  write_event(event);
}

void TensorBoardWriter::write_event(tensorboard::Event& event) {
  event.set_wall_time(
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  const std::string record = frame_record(event.SerializeAsString());
  if (!write_all(fd_, record)) {
    const std::string why = errno_text();
    // Cut a partly written record off, so that the file ends with a whole one.
    [[maybe_unused]] const int cut = ::ftruncate(fd_, static_cast<off_t>(size_));
    throw std::runtime_error("--tensorboard: cannot write " + path_ + ": " + why);
  }
  size_ += record.size();
}

}  // namespace rnn_dist::train
