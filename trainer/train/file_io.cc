#include "trainer/train/file_io.h"

#include <unistd.h>

#include <cerrno>
#include <cstddef>

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

}  // namespace rnn_dist::train
