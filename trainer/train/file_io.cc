#include "trainer/train/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace rnn_dist::train {

bool write_all(int fd, std::string_view data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

namespace {

[[noreturn]] void fail(const std::string& path, int error) {
  throw std::runtime_error("cannot write " + path + ": " + std::strerror(error));
}

// Writes, fsyncs and closes `temp`; errno of the first failure, 0 on success.
int write_temporary(const std::string& temp, std::string_view bytes) {
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  int error = 0;
  if (!write_all(fd, bytes) || ::fsync(fd) != 0) error = errno;
  if (::close(fd) != 0 && error == 0) error = errno;
  return error;
}

}  // namespace

void write_files_atomically(std::span<const std::pair<std::string, std::string_view>> files) {
  const std::string suffix = ".tmp." + std::to_string(::getpid());
  std::vector<std::string> temps;
  auto remove_temps = [&] {
    for (const auto& t : temps) std::remove(t.c_str());
  };
  for (const auto& [path, bytes] : files) {
    temps.push_back(path + suffix);
    if (const int error = write_temporary(temps.back(), bytes); error != 0) {
      remove_temps();
      fail(path, error);
    }
  }
  for (std::size_t i = 0; i < files.size(); ++i)
    if (std::rename(temps[i].c_str(), files[i].first.c_str()) != 0) {
      const int error = errno;
      for (std::size_t k = i; k < temps.size(); ++k) std::remove(temps[k].c_str());
      fail(files[i].first, error);
    }
  // Make the renames durable (best effort, as checkpoint_file.cc does).
  std::string synced;
  for (const auto& [path, bytes] : files) {
    const auto slash = path.find_last_of('/');
    const std::string dir =
        slash == std::string::npos ? "." : path.substr(0, std::max<std::size_t>(slash, 1));
    if (dir == synced) continue;
    synced = dir;
    if (const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); fd >= 0) {
      ::fsync(fd);
      ::close(fd);
    }
  }
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  const std::pair<std::string, std::string_view> one{path, bytes};
  write_files_atomically(std::span(&one, 1));
}

}  // namespace rnn_dist::train
