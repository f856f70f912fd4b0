// Small POSIX file helpers shared by the writers in train/.
#pragma once

#include <string_view>

namespace rnn_dist::train {

// Writes all of `data` to fd, retrying after EINTR and short writes; false on any other error
// (errno set).
bool write_all(int fd, std::string_view data);

}  // namespace rnn_dist::train
