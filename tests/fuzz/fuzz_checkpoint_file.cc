// Fuzz target: the bytes are a whole checkpoint file. read_checkpoint_file must either return a
// checkpoint or throw CheckpointError; anything else (another exception, a crash, a sanitizer
// report, a huge allocation) is a finding.
//
// TODO: call a parse_checkpoint_bytes(std::string_view, name) once checkpoint_file.h has one,
// instead of going through a file.
#include <string_view>

#include "tests/fuzz/fuzz_common.h"
#include "trainer/train/checkpoint_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace rnn_dist;
  const auto& path = fuzz::scratch_file();
  fuzz::write_file(path, std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    const auto checkpoint = train::read_checkpoint_file(path);
    (void)checkpoint.ByteSizeLong();
  } catch (const train::CheckpointError&) {
  }
  return 0;
}
