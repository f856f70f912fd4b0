// Checks of option values and option text that every subcommand shares (options.cc): the
// allowed range of every numeric option, the size of the model, the text of a --config file,
// the files an option names, and error messages made printable. Each throws UsageError with one
// line naming the option, file or line at fault.
#pragma once

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/variables_map.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "trainer/model/spec.h"

namespace rnn_dist::cli {

// "[1, 1000000]" style text of the values numeric option `name` (without dashes) allows, with
// the reason for a bound when it is not obvious; "" if `name` is not a numeric option.
std::string allowed_range(std::string_view name);

// The --help section listing the allowed range of every numeric option among `options`.
std::string ranges_help(const boost::program_options::options_description& options);

// Throws UsageError "--NAME VALUE must be in RANGE" for the first numeric option of `vm` that
// is out of its range (NaN and infinities are out of every range).
void check_ranges(const boost::program_options::variables_map& vm);

// The largest model trained: each thread holds the parameters, their gradients and the
// optimizer's state, and a checkpoint (parameters and optimizer state in one protobuf message)
// must stay below protobuf's 2 GiB.
inline constexpr std::uint64_t kMaxParameters = std::uint64_t{1} << 26;
// Parameters of the Embedding -> recurrent layers -> Dense(1) model of `spec` (an upper bound
// computed without building it: GRU counted with its two bias vectors).
std::uint64_t parameter_count(const model::ModelSpec& spec);
// Throws UsageError naming --num-words, --embed and --layers when parameter_count(spec) exceeds
// kMaxParameters.
void check_model_size(const model::ModelSpec& spec);

// The longest line a --config file may have.
inline constexpr std::size_t kMaxConfigLine = 64 * 1024;
// Reads a --config file and checks it is text: a readable regular file, no NUL byte, valid
// UTF-8, no line longer than kMaxConfigLine. Throws UsageError "--config PATH[ line N]: ...".
std::string read_config_text(const std::string& path);
// The 1-based line of INI `text` that sets `key` ("key = value"), 0 if none does (to point at
// the line of an error Boost reports without one).
int config_line_of(const std::string& text, const std::string& key);

// Throws UsageError "FLAG PATH: ..." unless `path` is a regular file this process can read
// (missing, a folder, unreadable).
void check_input_file(const std::string& flag, const std::string& path);

// `text` for an error line: control characters (newlines included) and bytes that are not
// valid UTF-8 are written as \xNN, and a text longer than `max_bytes` keeps its start and its
// end around "[... N bytes ...]".
std::string printable(std::string_view text, std::size_t max_bytes = 1000);

// The error line of a std::bad_alloc while `what` (e.g. "training") ran: which options size
// the memory a rank needs.
std::string out_of_memory_message(const std::string& what);

// Shortest text that reads back as the same double (messages, config.ini).
std::string format_number(double v);

}  // namespace rnn_dist::cli
