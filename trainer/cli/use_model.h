// What the commands that use a trained model (evaluate, predict, export) share.
#pragma once

#include <memory>
#include <string>

#include "rnn_dist.pb.h"
#include "trainer/model/model.h"

namespace rnn_dist::cli {

// The model of checkpoint `c` (read from `path`), with its parameters. Throws CheckpointError
// naming `path` when the tensors do not match the checkpoint's model spec.
std::unique_ptr<model::Model> load_model(const pb::Checkpoint& c, const std::string& path);

}  // namespace rnn_dist::cli
