// The one exception type of rnn_dist::data. Every failure of the data pipeline (missing or damaged
// files, bad options) throws DataError with a one-line message naming the path or value at fault;
// the command line turns it into an error line and an exit status.
#pragma once

#include <stdexcept>
#include <string>

namespace rnn_dist::data {

class DataError : public std::runtime_error {
 public:
  explicit DataError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace rnn_dist::data
