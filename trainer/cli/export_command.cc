// `rnn_dist export` (a checkpoint for ONNX Runtime or TensorFlow.js) and `rnn_dist import` (a
// TensorFlow.js Layers model as a checkpoint): one process; the formats are in trainer/interop/.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "trainer/cli/commands.h"
#include "trainer/cli/option_checks.h"
#include "trainer/cli/run_info.h"
#include "trainer/cli/use_model.h"
#include "trainer/interop/keras_layers.h"
#include "trainer/interop/onnx_export.h"
#include "trainer/interop/text_pipeline_json.h"
#include "trainer/interop/tfjs_export.h"
#include "trainer/interop/tfjs_import.h"
#include "trainer/train/checkpoint_file.h"
#include "trainer/train/file_io.h"

namespace rnn_dist::cli {

namespace {

namespace fs = std::filesystem;

// Throws UsageError "--out PATH: ..." unless `folder` (the folder --out writes into) is an
// existing folder this process may write to.
void check_output_folder(const std::string& out, const fs::path& folder) {
  std::error_code ec;
  const auto where = folder.empty() ? fs::path(".") : folder;
  if (!fs::is_directory(where, ec))
    throw UsageError("--out " + out + ": " + where.string() + " is not an existing folder");
  if (::access(where.c_str(), W_OK) != 0)
    throw UsageError("--out " + out + ": the folder " + where.string() + " is not writable");
}

// <out> with its extension replaced by ".vocab.json": the text pipeline beside an .onnx file.
std::string vocabulary_beside(const std::string& out) {
  return fs::path(out).replace_extension(".vocab.json").string();
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Writes the files of one export, the model last, and prints what was written. All of them go
// to temporary names first (train/file_io.h), so a failed export leaves none of its files and
// every file of an earlier export at that path as it was.
void write_export(const std::vector<std::pair<std::string, std::string_view>>& files,
                  std::chrono::steady_clock::time_point start) {
  try {
    train::write_files_atomically(files);
  } catch (const std::runtime_error& e) {
    throw interop::InteropError(e.what());
  }
  std::printf("exported in %.2f s:", seconds_since(start));
  for (const auto& [path, bytes] : files)
    std::printf(" %s (%zu bytes)", printable(path).c_str(), bytes.size());
  std::printf("\n");
}

}  // namespace

int run_export(const Options& o) {
  const auto start = std::chrono::steady_clock::now();
  check_input_file("--checkpoint", o.checkpoint);
  const bool onnx = o.format == "onnx";
  std::error_code ec;
  if (!onnx && fs::exists(o.out, ec) && !fs::is_directory(o.out, ec))
    throw UsageError("--out " + o.out + ": exists and is not a folder (tfjs writes a folder)");
  check_output_folder(o.out, fs::path(o.out).parent_path());
  const auto checkpoint = train::read_checkpoint_file(o.checkpoint);
  load_model(checkpoint, o.checkpoint);  // validates every tensor against the model spec
  if (onnx) {
    const auto model = interop::onnx_model_bytes(checkpoint);
    const auto vocab = interop::text_pipeline_json(checkpoint).dump();
    write_export({{vocabulary_beside(o.out), vocab}, {o.out, model}}, start);
    return kExitOk;
  }
  const auto files = interop::tfjs_files(checkpoint, std::string("rnn_dist ") + version());
  const bool created = !fs::is_directory(o.out, ec);
  if (created && !fs::create_directory(o.out, ec))
    throw UsageError("--out " + o.out + ": cannot create the folder: " + ec.message());
  const fs::path dir(o.out);
  try {
    write_export({{(dir / "vocab.json").string(), files.vocab_json},
                  {(dir / "weights.bin").string(), files.weights},
                  {(dir / "model.json").string(), files.model_json}},
                 start);
  } catch (...) {
    if (created) fs::remove(dir, ec);  // the folder this export made, empty again
    throw;
  }
  return kExitOk;
}

int run_import(const Options& o) {
  check_input_file("--from", o.from);
  const auto vocabulary =
      o.vocabulary.empty() ? (fs::path(o.from).parent_path() / "vocab.json").string() : o.vocabulary;
  check_input_file(o.vocabulary.empty() ? "--vocabulary (default: beside --from)" : "--vocabulary",
                   vocabulary);
  check_output_folder(o.out, fs::path(o.out).parent_path());
  const auto checkpoint = interop::import_tfjs(o.from, vocabulary);
  train::write_checkpoint_file(o.out, checkpoint);
  std::printf("imported %s (%s) into %s\n", printable(o.from).c_str(),
              printable(vocabulary).c_str(), printable(o.out).c_str());
  return kExitOk;
}

}  // namespace rnn_dist::cli
