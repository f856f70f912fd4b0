// Helpers shared by the checkpoint fuzz targets (fuzz_checkpoint_file.cc,
// fuzz_checkpoint_payload.cc), the seed generator and the replay driver.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rnn_dist::fuzz {

// A file name private to this process in $TMPDIR (default /tmp), removed at exit.
const std::string& scratch_file();

// Replaces the contents of `path` with `bytes`; aborts on failure (a broken harness, not a find).
void write_file(const std::string& path, std::string_view bytes);

// The on-disk framing of a checkpoint around `payload` (see trainer/train/checkpoint_file.h):
// magic, version, length, payload, CRC-32 of the payload.
std::string frame(std::string_view payload, std::uint32_t version = 1);

}  // namespace rnn_dist::fuzz

// The libFuzzer entry point each target defines.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
