// Checkpoint files: one pb::Checkpoint message behind a magic string, a format version and a
// CRC-32, written atomically (temporary file in the same folder, flush, fsync, rename, fsync of
// the folder), so a crash, a full disk or a killed rank never leaves a half-written checkpoint in
// place of a good one.
//
// File layout (little-endian):
//   "RNNDCKPT"             8-byte magic
//   uint32 format version  kCheckpointFormatVersion
//   uint64 payload length N
//   N bytes                pb::Checkpoint, serialized
//   uint32 CRC-32 (zlib) of the N payload bytes
#pragma once

#include <cstdint>
#include <stdexcept>
#include <functional>
#include <string>
#include <string_view>

#include "rnn_dist.pb.h"

namespace rnn_dist::train {

// 2: optimizer slots hold one value per parameter, in layout order (as the parameters do);
// 1: they held the whole buffer, with the padding of its 16-float alignment between tensors
// (still read, see restore in checkpointer.h).
inline constexpr std::uint32_t kCheckpointFormatVersion = 2;

// A checkpoint that cannot be read or written; the message names the file and what is wrong.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Writes `checkpoint` to `path` atomically. On failure (unwritable folder, full disk) throws
// CheckpointError saying so; the temporary file is removed and an existing file at `path` is
// untouched (the message says whether there was one).
// `before_rename`, if set, runs once the temporary file is complete, before the rename (fault
// injection: a writer that stops or dies mid-checkpoint).
void write_checkpoint_file(const std::string& path, const pb::Checkpoint& checkpoint,
                           const std::function<void()>& before_rename = {});

// Reads and verifies a checkpoint: magic, version (newer versions are refused), length, CRC,
// and that the payload parses. Throws CheckpointError ("not an rnn_dist checkpoint", "truncated",
// "damaged (checksum mismatch)", "written by a newer rnn_dist", "empty").
pb::Checkpoint read_checkpoint_file(const std::string& path);

// The same checks on the bytes of a checkpoint file already in memory; `name` is used in the
// messages (what read_checkpoint_file and the fuzz targets call).
pb::Checkpoint parse_checkpoint_bytes(std::string_view bytes, const std::string& name);

}  // namespace rnn_dist::train
