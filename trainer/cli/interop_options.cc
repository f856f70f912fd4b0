#include "trainer/cli/interop_options.h"

namespace rnn_dist::cli {

namespace po = boost::program_options;

po::options_description interop_options(Options& o) {
  if (o.command == Command::kExport) {
    po::options_description d("Export");
    d.add_options()("checkpoint", po::value(&o.checkpoint), "checkpoint file of a trained model")
        ("format", po::value(&o.format),
         "onnx: one .onnx file (opset 14) and <name>.vocab.json beside it; tfjs: a folder with "
         "model.json, weights.bin and vocab.json (TensorFlow.js Layers)")
        ("out", po::value(&o.out), "the .onnx file (onnx) or the folder (tfjs) to write");
    return d;
  }
  po::options_description d("Import");
  d.add_options()("from", po::value(&o.from), "model.json of a TensorFlow.js Layers model")
      ("vocabulary", po::value(&o.vocabulary),
       "the text pipeline JSON of the model (default: vocab.json beside model.json)")
      ("out", po::value(&o.out), "the rnn_dist checkpoint to write");
  return d;
}

void check_interop_options(const Options& o) {
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw UsageError(message);
  };
  if (o.command == Command::kExport) {
    require(!o.checkpoint.empty(), "export needs --checkpoint FILE");
    require(!o.format.empty(), "export needs --format onnx or --format tfjs");
    require(o.format == "onnx" || o.format == "tfjs",
            "--format '" + o.format + "' is not a known format (expected onnx or tfjs)");
    require(!o.out.empty(), "export needs --out PATH");
  } else {
    require(!o.from.empty(), "import needs --from model.json");
    require(!o.out.empty(), "import needs --out FILE (the checkpoint to write)");
  }
}

}  // namespace rnn_dist::cli
