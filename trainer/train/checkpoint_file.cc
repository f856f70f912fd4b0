#include "trainer/train/checkpoint_file.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "trainer/train/file_io.h"

namespace rnn_dist::train {

namespace {

constexpr char kMagic[8] = {'R', 'N', 'N', 'D', 'C', 'K', 'P', 'T'};
// Refuse absurd lengths before allocating (a bit flip in the length field).
constexpr std::uint64_t kMaxPayload = std::uint64_t{1} << 34;

std::uint32_t crc(const std::string& bytes) {
  return static_cast<std::uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

template <typename T>
void append(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

template <typename T>
T read_at(std::string_view in, std::size_t offset) {
  T value;
  std::memcpy(&value, in.data() + offset, sizeof value);
  return value;
}

}  // namespace

void write_checkpoint_file(const std::string& path, const pb::Checkpoint& checkpoint,
                           const std::function<void()>& before_rename) {
  std::string payload;
  if (!checkpoint.SerializeToString(&payload))
    throw CheckpointError("cannot serialise the checkpoint for " + path);
  std::string bytes(kMagic, sizeof kMagic);
  append(bytes, kCheckpointFormatVersion);
  append(bytes, static_cast<std::uint64_t>(payload.size()));
  bytes += payload;
  append(bytes, crc(payload));

  const std::filesystem::path target(path);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw CheckpointError("cannot write checkpoint " + tmp + ": " + std::strerror(errno));
  const bool ok = write_all(fd, bytes) && ::fsync(fd) == 0;
  const int saved_errno = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    const bool existed = ::access(path.c_str(), F_OK) == 0;
    throw CheckpointError("cannot write checkpoint " + path + ": " + std::strerror(saved_errno) +
                          (existed ? " (the existing file is unchanged)"
                                   : " (nothing was left there)"));
  }
  if (before_rename) before_rename();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    throw CheckpointError("cannot rename " + tmp + " to " + path + ": " + std::strerror(e));
  }
  // Make the rename itself durable.
  const auto dir = target.has_parent_path() ? target.parent_path().string() : std::string(".");
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

pb::Checkpoint read_checkpoint_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
    throw CheckpointError("checkpoint " + path + " is not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CheckpointError("cannot open checkpoint " + path + ": " + std::strerror(errno));
  std::string bytes;
  try {
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::exception& e) {
    throw CheckpointError("cannot read checkpoint " + path + ": " + e.what());
  }
  if (in.bad()) throw CheckpointError("cannot read checkpoint " + path);
  return parse_checkpoint_bytes(bytes, path);
}

pb::Checkpoint parse_checkpoint_bytes(std::string_view bytes, const std::string& path) {
  if (bytes.empty()) throw CheckpointError("checkpoint " + path + " is empty");
  constexpr std::size_t kHead = sizeof kMagic + sizeof(std::uint32_t) + sizeof(std::uint64_t);
  if (bytes.size() < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    throw CheckpointError(path + " is not an rnn_dist checkpoint");
  if (bytes.size() < kHead + sizeof(std::uint32_t))
    throw CheckpointError("checkpoint " + path + " is truncated");
  const auto version = read_at<std::uint32_t>(bytes, sizeof kMagic);
  if (version > kCheckpointFormatVersion)
    throw CheckpointError("checkpoint " + path + " was written by a newer rnn_dist (format " +
                          std::to_string(version) + "; this build reads up to " +
                          std::to_string(kCheckpointFormatVersion) + ")");
  if (version == 0) throw CheckpointError("checkpoint " + path + " has an invalid format version 0");
  const auto length = read_at<std::uint64_t>(bytes, sizeof kMagic + sizeof(std::uint32_t));
  if (length > kMaxPayload || bytes.size() < kHead + length + sizeof(std::uint32_t))
    throw CheckpointError("checkpoint " + path + " is truncated (" + std::to_string(bytes.size()) +
                          " bytes)");
  if (bytes.size() > kHead + length + sizeof(std::uint32_t))
    throw CheckpointError("checkpoint " + path + " has trailing bytes (damaged)");
  const std::string payload(bytes.substr(kHead, length));
  if (crc(payload) != read_at<std::uint32_t>(bytes, kHead + length))
    throw CheckpointError("checkpoint " + path + " is damaged (checksum mismatch)");
  pb::Checkpoint checkpoint;
  if (!checkpoint.ParseFromString(payload))
    throw CheckpointError("checkpoint " + path + " is damaged (payload does not parse)");
  if (checkpoint.format_version() != version)
    throw CheckpointError("checkpoint " + path + " is inconsistent (format version mismatch)");
  return checkpoint;
}

}  // namespace rnn_dist::train
