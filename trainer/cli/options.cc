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
#include "trainer/data/data_error.h"
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

// An option whose default is the value `field` holds before parsing: the struct's default, so
// that every default is typed once, where the field is declared.
template <class T>
po::typed_value<T>* defaulted(T& field) {
  return po::value(&field)->default_value(field);
}
// Doubles shown as typed ("0.001", not Boost's 17 digits).
po::typed_value<double>* defaulted(double& field) {
  return po::value(&field)->default_value(field, format_number(field));
}

// Options parsed as text or as a signed number and converted after parsing (a layer list, a
// pre/post name, counts that Boost would wrap from "-1" as unsigned), with the defaults of
// the fields they end in.
struct RawValues {
  explicit RawValues(const Options& o)
      : layers(model::format_layers(o.model.layers)),
        padding(data::padding_name(o.sequence.padding)),
        truncating(data::padding_name(o.sequence.truncating)),
        seed(std::to_string(o.train.seed)),
        max_steps(static_cast<std::int64_t>(o.train.max_steps)),
        checkpoint_every(static_cast<std::int64_t>(o.train.checkpoint_every)),
        warmup(static_cast<std::int64_t>(o.train.controls.warmup_steps)) {}
  std::string config;
  std::string layers, padding, truncating, seed;
  std::int64_t max_steps, checkpoint_every, warmup;
};

const char* kDataHelp =
    "aclImdb folder or prepared file (default: $RNN_DIST_DATA, else ./data/aclImdb)";

po::options_description general_options(Options& o, RawValues& raw) {
  po::options_description d("General");
  d.add_options()
      ("help,h", "print this help and exit")
      ("version", "print the version and exit")
      ("config", po::value(&raw.config), "read options from this INI file (the command line wins)")
      ("denormals", defaulted(o.denormals),
       "flush: compute with subnormal floats as zero (FTZ/DAZ, as TensorFlow does on CPU; "
       "backward passes are several times faster); keep: IEEE subnormals")
      ("quiet,q", "print only errors and the final results")
      ("verbose,v", "print more detail (the effective configuration in the run header)");
  return d;
}

po::options_description model_options(Options& o, RawValues& raw) {
  po::options_description d("Model");
  d.add_options()
      ("layers", defaulted(raw.layers),
       "recurrent stack, e.g. lstm:32 or simplernn:64,simplernn:32 (types: simplernn, lstm, "
       "gru; gru:32:reset_after=false is Keras's GRU(32, reset_after=False), the one "
       "TensorFlow.js runs)")
      ("embed", defaulted(o.model.embed_dim), "embedding dimension")
      ("num-words", defaulted(o.model.num_words),
       "vocabulary size: ids >= num-words become the out-of-vocabulary id 2")
      ("mask-padding", po::bool_switch(&o.model.mask_padding),
       "mask padded steps (Keras mask_zero) and bucket examples by length: much less work");
  return d;
}

po::options_description data_options(Options& o, RawValues& raw) {
  po::options_description d("Data");
  d.add_options()
      ("data", po::value(&o.data), kDataHelp)
      ("maxlen", defaulted(o.sequence.maxlen), "tokens kept per review")
      ("padding", defaulted(raw.padding), "pad short reviews: pre or post")
      ("truncating", defaulted(raw.truncating),
       "cut long reviews: pre (keep the end, as Keras) or post")
      ("validation-split", defaulted(o.train.validation_split),
       "fraction of the training split held out for validation, in [0, 1)");
  return d;
}

po::options_description train_options(Options& o, RawValues& raw) {
  po::options_description d("Training");
  d.add_options()
      ("epochs", defaulted(o.train.epochs), "passes over the training data")
      ("batch-size", defaulted(o.train.batch_size), "GLOBAL batch size, split over the ranks")
      ("optimizer", defaulted(o.optimizer.name), "rmsprop, adam or sgd")
      ("lr", defaulted(o.optimizer.lr), "learning rate")
      ("rho", defaulted(o.optimizer.rho), "rmsprop decay")
      ("momentum", defaulted(o.optimizer.momentum), "sgd momentum")
      ("nesterov", po::bool_switch(&o.optimizer.nesterov), "sgd with Nesterov momentum")
      ("epsilon", defaulted(o.optimizer.epsilon), "optimizer epsilon")
      ("clip-norm", defaulted(o.optimizer.clip_norm),
       "clip the gradient to this global norm (0: off)")
      ("seed", defaulted(raw.seed),
       "seed of the initial weights and example order, in [0, 2^64 - 1]")
      ("max-steps", defaulted(raw.max_steps), "stop after this many global steps (0: no limit)")
      ("skip-nonfinite", po::bool_switch(&o.train.skip_nonfinite),
       "skip an update with a non-finite gradient instead of stopping")
      ("micro-batch", defaulted(o.train.micro_batch),
       "examples per micro-batch: each global batch is cut into these fixed units, so that "
       "training gives the same bits on any number of ranks and threads (ranks and threads "
       "beyond batch-size / micro-batch have nothing to do)")
      ("eval-batch-size", defaulted(o.train.eval_batch_size),
       "examples per evaluation batch (fixed units, like micro-batches)")
      ("no-test", po::bool_switch(&o.no_test), "do not evaluate on the test split at the end");
  return d;
}

po::options_description control_options(Options& o, RawValues& raw) {
  auto& c = o.train.controls;
  po::options_description d("Training controls (decided from the metrics of all ranks)");
  d.add_options()
      ("monitor", defaulted(c.monitor),
       "metric watched by early stopping and LR reduction: val_loss or val_acc")
      ("min-delta", defaulted(c.min_delta),
       "smallest change of the monitored metric that counts as an improvement")
      ("early-stopping-patience", defaulted(c.early_stopping_patience),
       "stop after N epochs without improvement (0: off)")
      ("restore-best-weights", po::bool_switch(&c.restore_best_weights),
       "when early stopping ends the run, go back to the best epoch's weights")
      ("reduce-lr-patience", defaulted(c.reduce_lr_patience),
       "multiply the learning rate by --reduce-lr-factor after N epochs without improvement (0: off)")
      ("reduce-lr-factor", defaulted(c.reduce_lr_factor),
       "learning-rate reduction factor, in (0, 1)")
      ("min-lr", defaulted(c.min_lr), "lower bound of the learning rate")
      ("warmup-steps", defaulted(raw.warmup),
       "raise the learning rate linearly over the first N global steps (0: off)");
  return d;
}

po::options_description run_options(Options& o) {
  po::options_description d("Run");
  d.add_options()
      ("output-dir", defaulted(o.output_dir),
       "folder for history.csv, history.jsonl and config.ini (rank 0 writes)")
      ("threads", defaulted(o.train.threads),
       "threads per rank (0: the cores available to each rank)")
      ("collective-timeout", defaulted(o.collective_timeout),
       "seconds a collective may wait for a rank before the job is aborted (0: forever)")
      ("log-all-ranks", po::bool_switch(&o.log_all_ranks),
       "every rank other than 0 also writes its own progress to <output-dir>/rank-<r>.log")
      ("tensorboard", po::value(&o.tensorboard.dir),
       "folder for a TensorBoard events file (rank 0 writes): every whole epoch's metrics, "
       "learning rate and examples/s, and the running loss and acc every --tensorboard-every "
       "steps; a resumed run continues the same curves")
      ("tensorboard-every", defaulted(o.tensorboard.every),
       "global steps between two running loss/acc points of --tensorboard")
      ("check-replicas", po::bool_switch(&o.train.check_replicas),
       "after every step compare a hash of the parameters across ranks (debugging)")
      ("profile", po::bool_switch(&o.train.profile), "report where the step time goes")
      ("plot", po::bool_switch(&o.plot),
       "at the end, draw accuracy.png and loss.png next to history.csv (needs python3-matplotlib)")
      ("progress", defaulted(o.progress),
       "bar: redraw a progress bar in place; lines: a plain line every few seconds (batch logs); "
       "auto: bar on a terminal, lines otherwise and under mpirun/srun (which hand ranks a "
       "terminal even when the job's output goes to a file)");
  return d;
}

po::options_description checkpoint_options(Options& o, RawValues& raw) {
  po::options_description d("Checkpoints");
  d.add_options()
      ("checkpoint-dir", po::value(&o.checkpoint_dir),
       "where rank 0 writes checkpoints (default: <output-dir>/checkpoints)")
      ("checkpoint-every", defaulted(raw.checkpoint_every),
       "also checkpoint every N global steps (0: at the end of every epoch only)")
      ("keep", defaulted(o.keep), "newest checkpoints kept")
      ("best-metric", defaulted(o.best_metric),
       "keep best.rnnd by this validation metric: val_acc, val_loss, or none")
      ("resume", po::value(&o.resume),
       "auto: continue from the newest valid checkpoint in --checkpoint-dir (if any); "
       "or a checkpoint file");
  return d;
}

po::options_description prepare_options(Options& o) {
  po::options_description d("Prepare");
  d.add_options()
      ("data", po::value(&o.data), "aclImdb folder to read")
      ("out", po::value(&o.out), "prepared file to write");
  return d;
}

po::options_description evaluate_options(Options& o) {
  po::options_description d("Evaluate");
  d.add_options()
      ("checkpoint", po::value(&o.checkpoint), "checkpoint file of a trained model")
      ("data", po::value(&o.data), kDataHelp)
      ("split", defaulted(o.split), "test, or val (the run's held-out part)")
      ("eval-batch-size", defaulted(o.train.eval_batch_size), "examples per batch")
      ("collective-timeout", defaulted(o.collective_timeout),
       "seconds a collective may wait for a rank");
  return d;
}

po::options_description predict_options(Options& o,
                                        po::positional_options_description& positional) {
  po::options_description d("Predict");
  d.add_options()
      ("checkpoint", po::value(&o.checkpoint), "checkpoint file of a trained model")
      ("file", po::value(&o.files)->composing(), "a file holding one review (repeatable)")
      ("digits", defaulted(o.digits), "digits after the point of each probability")
      ("review", po::value(&o.texts)->composing(), "review text (also as plain arguments)");
  positional.add("review", -1);
  return d;
}

// The options of `command`, bound to the fields of `o` and `raw`.
po::options_description options_of(Command command, Options& o, RawValues& raw,
                                    po::positional_options_description& positional) {
  po::options_description all;
  all.add(general_options(o, raw));
  switch (command) {
    case Command::kPrepare:
      all.add(prepare_options(o));
      break;
    case Command::kEvaluate:
      all.add(evaluate_options(o));
      break;
    case Command::kPredict:
      all.add(predict_options(o, positional));
      break;
    case Command::kExport:
    case Command::kImport:
      all.add(interop_options(o));
      break;
    case Command::kSummary:
      all.add(model_options(o, raw));
      break;
    case Command::kTrain:
      all.add(model_options(o, raw));
      all.add(data_options(o, raw));
      all.add(train_options(o, raw));
      all.add(control_options(o, raw));
      all.add(run_options(o));
      all.add(checkpoint_options(o, raw));
      break;
  }
  return all;
}

data::Padding parse_padding(const std::string& flag, const std::string& v) {
  try {
    return data::parse_padding(v);
  } catch (const data::DataError&) {
    throw UsageError("--" + flag + " '" + v + "' must be pre or post");
  }
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

Command parse_command(const std::string& name) {
  if (name == "train") return Command::kTrain;
  if (name == "prepare") return Command::kPrepare;
  if (name == "summary") return Command::kSummary;
  if (name == "evaluate") return Command::kEvaluate;
  if (name == "predict") return Command::kPredict;
  if (name == "export") return Command::kExport;
  if (name == "import") return Command::kImport;
  throw UsageError("unknown subcommand '" + name +
                   "' (expected train, prepare, evaluate, predict, export, import or summary)");
}

// The command line `args`, then the --config file if one is named (the command line wins).
po::variables_map parse_values(const std::vector<std::string>& args,
                               const po::options_description& all,
                               const po::positional_options_description& positional,
                               const std::string& command) {
  po::variables_map vm;
  try {
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
  return vm;
}

std::string help_text(Command command, const po::options_description& all) {
  std::ostringstream text;
  text << kUsage << "\n" << all;
  if (command == Command::kTrain || command == Command::kSummary || command == Command::kEvaluate)
    text << "\n" << ranges_help(all);
  return text.str();
}

// Each finish_* function converts and checks one part of the options, after the numeric ranges
// (check_ranges), and throws UsageError naming the option at fault.

void finish_model(model::ModelSpec& spec, const RawValues& raw) {
  try {
    spec.layers = model::parse_layers(raw.layers);
    model::validate(spec);
  } catch (const model::SpecError& e) {
    throw UsageError(e.what());
  }
  check_model_size(spec);
}

void finish_sequence(data::SequenceOptions& sequence, const model::ModelSpec& spec,
                     const RawValues& raw) {
  sequence.num_words = spec.num_words;
  sequence.padding = parse_padding("padding", raw.padding);
  sequence.truncating = parse_padding("truncating", raw.truncating);
}

void finish_optimizer(const optim::OptimizerConfig& optimizer) {
  try {
    optim::validate(optimizer);
  } catch (const optim::OptimizerError& e) {
    throw UsageError(e.what());
  }
}

void finish_controls(train::ControlOptions& c, const Options& o, const RawValues& raw) {
  require(c.monitor == "val_loss" || c.monitor == "val_acc",
          "--monitor '" + c.monitor + "' must be val_loss or val_acc");
  require(c.min_lr <= o.optimizer.lr, "--min-lr " + format_number(c.min_lr) +
                                          " must be at most --lr " + format_number(o.optimizer.lr));
  require((c.early_stopping_patience == 0 && c.reduce_lr_patience == 0) ||
              o.train.validation_split > 0,
          "--early-stopping-patience and --reduce-lr-patience need validation metrics: "
          "set --validation-split > 0");
  c.warmup_steps = static_cast<std::uint64_t>(raw.warmup);
}

void finish_train(train::TrainOptions& t, const RawValues& raw) {
  require(t.micro_batch <= t.batch_size,
          "--micro-batch " + std::to_string(t.micro_batch) + " must be in [1, --batch-size " +
              std::to_string(t.batch_size) + "]");
  require((t.batch_size + t.micro_batch - 1) / t.micro_batch <= 4096,
          "--batch-size " + std::to_string(t.batch_size) + " / --micro-batch " +
              std::to_string(t.micro_batch) + " must give at most 4096 micro-batches");
  t.seed = parse_seed(raw.seed);
  t.max_steps = static_cast<std::uint64_t>(raw.max_steps);
  t.checkpoint_every = static_cast<std::uint64_t>(raw.checkpoint_every);
}

// The run's outputs and reporting: --progress, --best-metric, --checkpoint-dir.
void finish_run(Options& o) {
  require(o.progress == "auto" || o.progress == "bar" || o.progress == "lines",
          "--progress '" + o.progress + "' must be auto, bar or lines");
  require(o.best_metric == "val_acc" || o.best_metric == "val_loss" || o.best_metric == "none",
          "--best-metric '" + o.best_metric + "' must be val_acc, val_loss or none");
  if (o.best_metric == "none") o.best_metric.clear();
  if (o.checkpoint_dir.empty()) o.checkpoint_dir = o.output_dir + "/checkpoints";
}

// The checks of what every subcommand takes: non-empty strings, numeric ranges, --denormals,
// --quiet / --verbose.
void finish_general(Options& o, const po::variables_map& vm, const po::options_description& all) {
  check_not_empty(vm, all);
  check_ranges(vm);
  require(o.denormals == "flush" || o.denormals == "keep",
          "--denormals '" + o.denormals + "' must be flush or keep");
  if (vm.count("quiet")) o.verbosity = train::Verbosity::kQuiet;
  if (vm.count("verbose")) o.verbosity = train::Verbosity::kVerbose;
}

// What the subcommand needs given: throws UsageError naming what is missing.
void check_required(const Options& o, const std::string& command) {
  if (o.command == Command::kPrepare) {
    require(!o.data.empty(), "prepare needs --data DIR (the aclImdb folder)");
    require(!o.out.empty(), "prepare needs --out FILE");
  }
  if (o.command == Command::kEvaluate || o.command == Command::kPredict)
    require(!o.checkpoint.empty(), command + " needs --checkpoint FILE");
  if (o.command == Command::kEvaluate)
    require(o.split == "test" || o.split == "val", "--split '" + o.split + "' must be test or val");
  if (o.command == Command::kExport || o.command == Command::kImport) check_interop_options(o);
}

}  // namespace

Options parse_options(int argc, char** argv) {
  Options o;
  const bool named = argc > 1 && argv[1][0] != '-';
  const std::string command = named ? argv[1] : "train";
  o.command = parse_command(command);
  RawValues raw(o);
  po::positional_options_description positional;
  const po::options_description all = options_of(o.command, o, raw, positional);
  const po::variables_map vm =
      parse_values(std::vector<std::string>(argv + (named ? 2 : 1), argv + argc), all, positional,
                   command);

  o.help = vm.count("help") > 0;
  o.version = vm.count("version") > 0;
  if (o.help) o.help_text = help_text(o.command, all);
  if (o.help || o.version) return o;
  finish_general(o, vm, all);
  check_required(o, command);
  if (o.command != Command::kTrain && o.command != Command::kSummary) return o;
  finish_model(o.model, raw);
  if (o.command == Command::kSummary) return o;

  finish_sequence(o.sequence, o.model, raw);
  finish_train(o.train, raw);
  finish_optimizer(o.optimizer);
  finish_controls(o.train.controls, o, raw);
  finish_run(o);
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
