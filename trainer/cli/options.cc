#include "trainer/cli/options.h"

#include <boost/program_options.hpp>
#include <charconv>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "trainer/cli/interop_options.h"
#include "trainer/cli/option_checks.h"
#include "trainer/data/prepared_dataset.h"

namespace rnn_dist::cli {

namespace po = boost::program_options;

namespace {

const char* kUsage =
    "usage: rnn_dist [train] [options]      train a model (the default)\n"
    "       rnn_dist prepare --data DIR --out FILE\n"
    "                                       tokenise aclImdb once into a prepared file\n"
    "       rnn_dist evaluate --checkpoint FILE [--split test|val]\n"
    "                                       loss and accuracy of a trained model\n"
    "       rnn_dist predict --checkpoint FILE [REVIEW...] [--file F...]\n"
    "                                       score reviews (arguments, files, or stdin lines)\n"
    "       rnn_dist export --checkpoint FILE --format onnx|tfjs --out PATH\n"
    "                                       write a trained model for ONNX Runtime or TensorFlow.js\n"
    "       rnn_dist import --from model.json --out FILE\n"
    "                                       a TensorFlow.js Layers model as an rnn_dist checkpoint\n"
    "       rnn_dist summary [model options]\n"
    "                                       print the model's Keras-style summary\n"
    "Run `rnn_dist SUBCOMMAND --help` for the options of one subcommand.\n";

po::options_description general_options(Options& o, std::string& config) {
  po::options_description d("General");
  d.add_options()
      ("help,h", "print this help and exit")
      ("version", "print the version and exit")
      ("config", po::value(&config), "read options from this INI file (the command line wins)")
      ("denormals", po::value(&o.denormals)->default_value("flush"),
       "flush: compute with subnormal floats as zero (FTZ/DAZ, as TensorFlow does on CPU; "
       "backward passes are several times faster); keep: IEEE subnormals")
      ("quiet,q", "print only errors and the final results")
      ("verbose,v", "print more detail (the effective configuration in the run header)");
  return d;
}

po::options_description model_options(Options& o, std::string& layers) {
  po::options_description d("Model");
  d.add_options()
      ("layers", po::value(&layers)->default_value("lstm:32"),
       "recurrent stack, e.g. lstm:32 or simplernn:64,simplernn:32 (types: simplernn, lstm, gru)")
      ("embed", po::value(&o.model.embed_dim)->default_value(32), "embedding dimension")
      ("num-words", po::value(&o.model.num_words)->default_value(10000),
       "vocabulary size: ids >= num-words become the out-of-vocabulary id 2")
      ("mask-padding", po::bool_switch(&o.model.mask_padding),
       "mask padded steps (Keras mask_zero) and bucket examples by length: much less work");
  return d;
}

po::options_description data_options(Options& o, std::string& padding, std::string& truncating) {
  po::options_description d("Data");
  d.add_options()
      ("data", po::value(&o.data),
       "aclImdb folder or prepared file (default: $RNN_DIST_DATA, else ./data/aclImdb)")
      ("maxlen", po::value(&o.sequence.maxlen)->default_value(500), "tokens kept per review")
      ("padding", po::value(&padding)->default_value("pre"), "pad short reviews: pre or post")
      ("truncating", po::value(&truncating)->default_value("pre"),
       "cut long reviews: pre (keep the end, as Keras) or post")
      ("validation-split", po::value(&o.train.validation_split)->default_value(0.2, "0.2"),
       "fraction of the training split held out for validation, in [0, 1)");
  return d;
}

po::options_description train_options(Options& o, std::string& seed, std::int64_t& max_steps) {
  po::options_description d("Training");
  d.add_options()
      ("epochs", po::value(&o.train.epochs)->default_value(10), "passes over the training data")
      ("batch-size", po::value(&o.train.batch_size)->default_value(128),
       "GLOBAL batch size, split over the ranks")
      ("optimizer", po::value(&o.optimizer.name)->default_value("rmsprop"), "rmsprop, adam or sgd")
      ("lr", po::value(&o.optimizer.lr)->default_value(1e-3, "0.001"), "learning rate")
      ("rho", po::value(&o.optimizer.rho)->default_value(0.9, "0.9"), "rmsprop decay")
      ("momentum", po::value(&o.optimizer.momentum)->default_value(0.0, "0"), "sgd momentum")
      ("nesterov", po::bool_switch(&o.optimizer.nesterov), "sgd with Nesterov momentum")
      ("epsilon", po::value(&o.optimizer.epsilon)->default_value(1e-7, "1e-07"), "optimizer epsilon")
      ("clip-norm", po::value(&o.optimizer.clip_norm)->default_value(0.0, "0"),
       "clip the gradient to this global norm (0: off)")
      ("seed", po::value(&seed)->default_value("1337"),
       "seed of the initial weights and example order, in [0, 2^64 - 1]")
      ("max-steps", po::value(&max_steps)->default_value(0),
       "stop after this many global steps (0: no limit)")
      ("skip-nonfinite", po::bool_switch(&o.train.skip_nonfinite),
       "skip an update with a non-finite gradient instead of stopping")
      ("micro-batch", po::value(&o.train.micro_batch)->default_value(16),
       "examples per micro-batch: each global batch is cut into these fixed units, so that "
       "training gives the same bits on any number of ranks and threads (ranks and threads "
       "beyond batch-size / micro-batch have nothing to do)")
      ("eval-batch-size", po::value(&o.train.eval_batch_size)->default_value(256),
       "examples per evaluation batch (fixed units, like micro-batches)")
      ("no-test", po::bool_switch(&o.no_test), "do not evaluate on the test split at the end");
  return d;
}

po::options_description control_options(Options& o, std::int64_t& warmup) {
  auto& c = o.train.controls;
  po::options_description d("Training controls (decided from the metrics of all ranks)");
  d.add_options()
      ("monitor", po::value(&c.monitor)->default_value("val_loss"),
       "metric watched by early stopping and LR reduction: val_loss or val_acc")
      ("min-delta", po::value(&c.min_delta)->default_value(0.0, "0"),
       "smallest change of the monitored metric that counts as an improvement")
      ("early-stopping-patience", po::value(&c.early_stopping_patience)->default_value(0),
       "stop after N epochs without improvement (0: off)")
      ("restore-best-weights", po::bool_switch(&c.restore_best_weights),
       "when early stopping ends the run, go back to the best epoch's weights")
      ("reduce-lr-patience", po::value(&c.reduce_lr_patience)->default_value(0),
       "multiply the learning rate by --reduce-lr-factor after N epochs without improvement (0: off)")
      ("reduce-lr-factor", po::value(&c.reduce_lr_factor)->default_value(0.1, "0.1"),
       "learning-rate reduction factor, in (0, 1)")
      ("min-lr", po::value(&c.min_lr)->default_value(0.0, "0"), "lower bound of the learning rate")
      ("warmup-steps", po::value(&warmup)->default_value(0),
       "raise the learning rate linearly over the first N global steps (0: off)");
  return d;
}

po::options_description run_options(Options& o) {
  po::options_description d("Run");
  d.add_options()
      ("output-dir", po::value(&o.output_dir)->default_value("runs/latest"),
       "folder for history.csv, history.jsonl and config.ini (rank 0 writes)")
      ("threads", po::value(&o.threads)->default_value(0),
       "threads per rank (0: the cores available to each rank)")
      ("collective-timeout", po::value(&o.collective_timeout)->default_value(300),
       "seconds a collective may wait for a rank before the job is aborted (0: forever)")
      ("log-all-ranks", po::bool_switch(&o.log_all_ranks),
       "every rank other than 0 also writes its own progress to <output-dir>/rank-<r>.log")
      ("tensorboard", po::value(&o.tensorboard.dir),
       "folder for a TensorBoard events file (rank 0 writes): every whole epoch's metrics, "
       "learning rate and examples/s, and the running loss and acc every --tensorboard-every "
       "steps; a resumed run continues the same curves")
      ("tensorboard-every", po::value(&o.tensorboard.every)->default_value(o.tensorboard.every),
       "global steps between two running loss/acc points of --tensorboard")
      ("check-replicas", po::bool_switch(&o.train.check_replicas),
       "after every step compare a hash of the parameters across ranks (debugging)")
      ("profile", po::bool_switch(&o.train.profile), "report where the step time goes")
      ("plot", po::bool_switch(&o.plot),
       "at the end, draw accuracy.png and loss.png next to history.csv (needs python3-matplotlib)")
      ("progress", po::value(&o.progress)->default_value("auto"),
       "bar: redraw a progress bar in place; lines: a plain line every few seconds (batch logs); "
       "auto: bar on a terminal, lines otherwise and under mpirun/srun (which hand ranks a "
       "terminal even when the job's output goes to a file)");
  return d;
}

po::options_description checkpoint_options(Options& o, std::int64_t& every) {
  po::options_description d("Checkpoints");
  d.add_options()
      ("checkpoint-dir", po::value(&o.checkpoint_dir),
       "where rank 0 writes checkpoints (default: <output-dir>/checkpoints)")
      ("checkpoint-every", po::value(&every)->default_value(0),
       "also checkpoint every N global steps (0: at the end of every epoch only)")
      ("keep", po::value(&o.keep)->default_value(3), "newest checkpoints kept")
      ("best-metric", po::value(&o.best_metric)->default_value("val_acc"),
       "keep best.rnnd by this validation metric: val_acc, val_loss, or none")
      ("resume", po::value(&o.resume),
       "auto: continue from the newest valid checkpoint in --checkpoint-dir (if any); "
       "or a checkpoint file");
  return d;
}

data::Padding parse_padding(const std::string& flag, const std::string& v) {
  if (v == "pre") return data::Padding::kPre;
  if (v == "post") return data::Padding::kPost;
  throw UsageError("--" + flag + " '" + v + "' must be pre or post");
}

// Paths stored in config.ini are made absolute, so that --config works from any folder.
std::string absolute_path(const std::string& path) {
  if (path.empty()) return path;
  std::error_code ec;
  const auto abs = std::filesystem::absolute(path, ec);
  return ec ? path : abs.lexically_normal().string();
}

// INI text of every option that has a value, so that `--config` of it repeats the run.
std::string effective_config(const po::variables_map& vm, bool absolute_paths) {
  std::ostringstream out;
  out << "# rnn_dist effective configuration (use with --config)\n";
  for (const auto& [name, value] : vm) {
    if (name == "config" || name == "help" || name == "version") continue;
    const auto& any = value.value();
    out << name << " = ";
    if (auto* s = boost::any_cast<std::string>(&any)) {
      const bool is_path = name == "data" || name == "output-dir" || name == "checkpoint-dir" ||
                           name == "tensorboard" || (name == "resume" && *s != "auto");
      out << (is_path && absolute_paths ? absolute_path(*s) : *s);
    }
    else if (auto* i = boost::any_cast<int>(&any)) out << *i;
    else if (auto* d = boost::any_cast<double>(&any)) out << format_number(*d);
    else if (auto* u = boost::any_cast<std::uint64_t>(&any)) out << *u;
    else if (auto* l = boost::any_cast<std::int64_t>(&any)) out << *l;
    else if (auto* b = boost::any_cast<bool>(&any)) out << (*b ? "true" : "false");
    else out << "true";
    out << "\n";
  }
  return out.str();
}

void require(bool ok, const std::string& message) {
  if (!ok) throw UsageError(message);
}

// A string option given with an empty value ("--data ''" would otherwise mean "not given").
// Switches without a value (--quiet) hold an empty string too: they are left out.
void check_not_empty(const po::variables_map& vm, const po::options_description& all) {
  for (const auto& [name, value] : vm) {
    if (value.defaulted()) continue;
    const auto* option = all.find_nothrow(name, false);
    if (!option || option->semantic()->max_tokens() == 0) continue;
    if (auto* s = boost::any_cast<std::string>(&value.value()); s && s->empty())
      throw UsageError("--" + name + " is empty");
    if (auto* v = boost::any_cast<std::vector<std::string>>(&value.value()); v && name == "file")
      for (const auto& f : *v) require(!f.empty(), "--file is empty");
  }
}

// --seed: an unsigned 64-bit number (Boost would take "-1" as 2^64 - 1).
std::uint64_t parse_seed(const std::string& text) {
  std::uint64_t seed = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seed);
  require(ec == std::errc() && end == text.data() + text.size() && !text.empty(),
          "--seed '" + text + "' must be an integer in [0, 18446744073709551615]");
  return seed;
}

// Boost's message for a value that does not parse, with the option's allowed range; for an
// error in a --config file, with the file and line.
std::string parse_error(const po::error& e, const std::string& config_path,
                        const std::string& config_text) {
  std::string message = e.what();
  const auto* named = dynamic_cast<const po::error_with_option_name*>(&e);
  std::string name = named ? named->get_option_name() : "";
  while (!name.empty() && name.front() == '-') name.erase(0, 1);
  if (dynamic_cast<const po::invalid_option_value*>(&e)) {
    if (const auto range = allowed_range(name); !range.empty())
      message += ": must be in " + range;
  }
  if (!config_path.empty()) {
    const int line = name.empty() ? 0 : config_line_of(config_text, name);
    message = "--config " + config_path + (line ? " line " + std::to_string(line) : "") + ": " +
              message;
  }
  return message;
}

}  // namespace

Options parse_options(int argc, char** argv) {
  Options o;
  int first = 1;
  std::string command = "train";
  if (argc > 1 && argv[1][0] != '-') {
    command = argv[1];
    first = 2;
  }
  if (command == "train") o.command = Command::kTrain;
  else if (command == "prepare") o.command = Command::kPrepare;
  else if (command == "summary") o.command = Command::kSummary;
  else if (command == "evaluate") o.command = Command::kEvaluate;
  else if (command == "predict") o.command = Command::kPredict;
  else if (command == "export") o.command = Command::kExport;
  else if (command == "import") o.command = Command::kImport;
  else
    throw UsageError("unknown subcommand '" + command +
                     "' (expected train, prepare, evaluate, predict, export, import or summary)");

  std::string config, layers, padding, truncating, seed;
  std::int64_t max_steps = 0, checkpoint_every = 0, warmup = 0;
  po::options_description all;
  po::positional_options_description positional;
  all.add(general_options(o, config));
  if (o.command == Command::kPrepare) {
    po::options_description d("Prepare");
    d.add_options()("data", po::value(&o.data), "aclImdb folder to read")(
        "out", po::value(&o.out), "prepared file to write");
    all.add(d);
  } else if (o.command == Command::kEvaluate || o.command == Command::kPredict) {
    po::options_description d(o.command == Command::kEvaluate ? "Evaluate" : "Predict");
    d.add_options()("checkpoint", po::value(&o.checkpoint), "checkpoint file of a trained model");
    if (o.command == Command::kEvaluate) {
      d.add_options()("data", po::value(&o.data),
                      "aclImdb folder or prepared file (default: $RNN_DIST_DATA, else ./data/aclImdb)")
          ("split", po::value(&o.split)->default_value("test"), "test, or val (the run's held-out part)")
          ("eval-batch-size", po::value(&o.train.eval_batch_size)->default_value(256),
           "examples per batch")
          ("collective-timeout", po::value(&o.collective_timeout)->default_value(300),
           "seconds a collective may wait for a rank");
    } else {
      d.add_options()("file", po::value(&o.files)->composing(), "a file holding one review (repeatable)")
          ("digits", po::value(&o.digits)->default_value(o.digits), "digits after the point of each probability")
          ("review", po::value(&o.texts)->composing(), "review text (also as plain arguments)");
      positional.add("review", -1);
    }
    all.add(d);
  } else if (o.command == Command::kExport || o.command == Command::kImport) {
    all.add(interop_options(o));
  } else {
    all.add(model_options(o, layers));
    if (o.command == Command::kTrain) {
      all.add(data_options(o, padding, truncating));
      all.add(train_options(o, seed, max_steps));
      all.add(control_options(o, warmup));
      all.add(run_options(o));
      all.add(checkpoint_options(o, checkpoint_every));
    }
  }

  po::variables_map vm;
  try {
    std::vector<std::string> args(argv + first, argv + argc);
    // No abbreviations: `--epoch 3` silently meaning --epochs would break when options are added.
    const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(args).options(all).positional(positional).style(style).run(), vm);
    if (vm.count("config")) {
      const auto path = vm["config"].as<std::string>();
      require(!path.empty(), "--config is empty");
      const std::string text = read_config_text(path);
      std::istringstream in(text);
      try {
        po::store(po::parse_config_file(in, all), vm);
      } catch (const po::error& e) {
        throw UsageError(parse_error(e, path, text));
      }
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(parse_error(e, "", "") + " (see rnn_dist " + command + " --help)");
  }

  o.help = vm.count("help") > 0;
  o.version = vm.count("version") > 0;
  if (o.help) {
    std::ostringstream text;
    text << kUsage << "\n" << all;
    if (o.command == Command::kTrain || o.command == Command::kSummary ||
        o.command == Command::kEvaluate)
      text << "\n" << ranges_help(all);
    o.help_text = text.str();
    return o;
  }
  if (o.version) return o;
  check_not_empty(vm, all);
  check_ranges(vm);
  require(o.denormals == "flush" || o.denormals == "keep",
          "--denormals '" + o.denormals + "' must be flush or keep");
  if (vm.count("quiet")) o.verbosity = train::Verbosity::kQuiet;
  if (vm.count("verbose")) o.verbosity = train::Verbosity::kVerbose;

  if (o.command == Command::kExport || o.command == Command::kImport) {
    check_interop_options(o);
    return o;
  }
  if (o.command == Command::kPrepare) {
    require(!o.data.empty(), "prepare needs --data DIR (the aclImdb folder)");
    require(!o.out.empty(), "prepare needs --out FILE");
    return o;
  }
  if (o.command == Command::kEvaluate || o.command == Command::kPredict) {
    require(!o.checkpoint.empty(), command + " needs --checkpoint FILE");
    require(o.split == "test" || o.split == "val", "--split '" + o.split + "' must be test or val");
    return o;
  }
  try {
    o.model.layers = model::parse_layers(layers);
    model::validate(o.model);
  } catch (const model::SpecError& e) {
    throw UsageError(e.what());
  }
  check_model_size(o.model);
  if (o.command == Command::kSummary) return o;

  o.sequence.num_words = o.model.num_words;
  o.sequence.padding = parse_padding("padding", padding);
  o.sequence.truncating = parse_padding("truncating", truncating);
  require(o.train.micro_batch <= o.train.batch_size,
          "--micro-batch " + std::to_string(o.train.micro_batch) + " must be in [1, --batch-size " +
              std::to_string(o.train.batch_size) + "]");
  require((o.train.batch_size + o.train.micro_batch - 1) / o.train.micro_batch <= 4096,
          "--batch-size " + std::to_string(o.train.batch_size) + " / --micro-batch " +
              std::to_string(o.train.micro_batch) + " must give at most 4096 micro-batches");
  try {
    optim::validate(o.optimizer);
  } catch (const optim::OptimizerError& e) {
    throw UsageError(e.what());
  }
  {
    const auto& c = o.train.controls;
    require(c.monitor == "val_loss" || c.monitor == "val_acc",
            "--monitor '" + c.monitor + "' must be val_loss or val_acc");
    require(c.min_lr <= o.optimizer.lr, "--min-lr " + format_number(c.min_lr) +
                                            " must be at most --lr " +
                                            format_number(o.optimizer.lr));
    require((c.early_stopping_patience == 0 && c.reduce_lr_patience == 0) ||
                o.train.validation_split > 0,
            "--early-stopping-patience and --reduce-lr-patience need validation metrics: "
            "set --validation-split > 0");
    o.train.controls.warmup_steps = static_cast<std::uint64_t>(warmup);
  }
  require(o.progress == "auto" || o.progress == "bar" || o.progress == "lines",
          "--progress '" + o.progress + "' must be auto, bar or lines");
  require(o.best_metric == "val_acc" || o.best_metric == "val_loss" || o.best_metric == "none",
          "--best-metric '" + o.best_metric + "' must be val_acc, val_loss or none");
  if (o.best_metric == "none") o.best_metric.clear();
  if (o.checkpoint_dir.empty()) o.checkpoint_dir = o.output_dir + "/checkpoints";
  o.train.checkpoint_every = static_cast<std::uint64_t>(checkpoint_every);
  o.train.checkpoints = true;
  o.train.seed = parse_seed(seed);
  o.train.max_steps = static_cast<std::uint64_t>(max_steps);
  o.evaluate_test = !o.no_test;
  o.effective_config = effective_config(vm, /*absolute_paths=*/true);
  o.options_as_given = effective_config(vm, /*absolute_paths=*/false);
  return o;
}

std::string resolve_data_path(const std::string& flag) {
  std::string path = flag, source = "--data ";
  if (path.empty()) {
    const char* env = std::getenv("RNN_DIST_DATA");
    path = env && *env ? env : "data/aclImdb";
    source = env && *env ? "RNN_DIST_DATA=" : "the default --data ";
  }
  const std::string problem = data::data_path_problem(path);
  if (problem.empty()) return path;
  std::error_code ec;
  const auto absolute = std::filesystem::absolute(path, ec);
  std::string message =
      source + (ec ? path : absolute.lexically_normal().string()) + ": " + problem;
  if (problem == "no such file or folder")
    message += " (run launch/get_imdb.sh to fetch the IMDB data, or pass --data or set "
               "RNN_DIST_DATA)";
  throw UsageError(message);
}

}  // namespace rnn_dist::cli
