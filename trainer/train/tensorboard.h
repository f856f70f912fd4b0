// TensorBoard events files (--tensorboard DIR), written by rank 0 as training goes: TensorFlow's
// record framing around Event / Summary messages (proto/tensorboard.proto), scalars as
// simple_value (what Keras's TensorBoard callback writes; TensorBoard's scalars plugin reads it).
//
// Tags, all at the global step (TensorBoard's x axis), so that the epoch points sit on the
// running curves: every `every` steps batch_loss and batch_acc (the epoch's running means, as
// Keras logs them); at every whole epoch's end epoch_loss, epoch_acc, epoch_val_loss,
// epoch_val_acc, epoch_learning_rate and epoch_examples_per_second (history.csv's row).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tensorboard.pb.h"
#include "trainer/train/history.h"

namespace rnn_dist::train {

// CRC-32C (Castagnoli, reflected, init and final xor 0xffffffff), as TFRecord frames use it.
std::uint32_t crc32c(std::string_view bytes);
// The stored form of a record's CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8 (TFRecord masks
// CRCs so that a CRC of data that holds CRCs stays a good check).
std::uint32_t masked_crc32c(std::string_view bytes);
// One TFRecord frame: uint64 little-endian length, masked CRC-32C of those 8 bytes, the data,
// masked CRC-32C of the data.
std::string frame_record(std::string_view data);

// The records of a TFRecord file in order, up to the first one that is truncated or fails a CRC
// (`problem` then says which and at what byte offset; a killed writer can leave the last record
// short).
struct RecordScan {
  std::vector<std::string> records;
  std::string problem;  // "" when the whole file read back
};
RecordScan read_records(const std::string& path);

struct TensorBoardOptions {
  std::string dir;          // "" = no events file
  std::int64_t every = 10;  // global steps between batch_loss / batch_acc points
};

class TensorBoardWriter {
 public:
  using Warn = std::function<void(const std::string&)>;
  // Creates a new events file in options.dir, named as TensorFlow names them
  // (events.out.tfevents.<unix time>.<host>, with ".<n>" added when that name is taken, so that
  // the newest file sorts last), and writes the "brain.Event:2" file_version event.
  //
  // resumed_step: the global step C of the checkpoint this run continues from. Events of steps
  // > C in the folder's earlier files came from a run that went on past that checkpoint and
  // died; this run writes those steps again. They are removed (each such file is rewritten
  // through a temporary file and a rename), so that every tag's steps increase across the
  // folder's files as in an uninterrupted run, and a SessionLog START at step C + 1 goes first
  // into the new file: a TensorBoard that had already read the removed points drops them too
  // (its purge of orphaned data). Without resumed_step nothing is removed, and `warn` says when
  // the folder holds events files already. `warn` also names damaged files.
  // Throws std::runtime_error naming the file it cannot read or write.
  TensorBoardWriter(const TensorBoardOptions& options, std::optional<std::uint64_t> resumed_step,
                    const Warn& warn);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // After global step `step`: batch_loss and batch_acc when step is a multiple of `every`.
  void on_step(std::uint64_t step, double running_loss, double running_acc);
  // After a whole epoch that ended at global step `step`: its history row and learning rate.
  // Synced to disk (once an epoch: a record of a step summary is written whole, which a killed
  // process keeps, but only a sync keeps it through a power cut).
  void on_epoch(std::uint64_t step, const EpochMetrics& row, double learning_rate);

  const std::string& path() const { return path_; }

 private:
  // One Event of `values` at `step`, one record, written whole by one write() (on failure the
  // file is cut back to its last whole record and this throws).
  void write_scalars(std::uint64_t step, const std::vector<std::pair<std::string, double>>& values);
  void write_event(tensorboard::Event& event);

  std::int64_t every_;
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;  // bytes of whole records written
};

}  // namespace rnn_dist::train
