#include "trainer/model/denormals.h"
#include "trainer/cli/run_info.h"

#include "trainer/cli/commands.h"
#include "trainer/cli/option_checks.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <thread>

namespace rnn_dist::cli {

namespace {

int env_int(std::initializer_list<const char*> names, int fallback) {
  for (const char* name : names) {
    const char* v = std::getenv(name);
    if (v && *v) return std::atoi(v);
  }
  return fallback;
}


}  // namespace

const char* version() { return "0.1.0"; }

int launcher_rank() {
  return env_int({"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"}, 0);
}

bool under_launcher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"})
    if (std::getenv(name)) return true;
  return false;
}

bool progress_bar_wanted(const std::string& progress) {
  if (progress == "bar") return true;
  if (progress == "lines") return false;
  return isatty(fileno(stdout)) && !under_launcher();
}

int choose_threads(int requested, int local_ranks) {
  if (requested > 0) return requested;
  cpu_set_t set;
  CPU_ZERO(&set);
  int cores = static_cast<int>(std::thread::hardware_concurrency());
  if (sched_getaffinity(0, sizeof set, &set) == 0) cores = CPU_COUNT(&set);
  // When the launcher bound this rank to a subset of cores, that subset is ours alone; otherwise
  // the node's cores are shared among its ranks.
  const int hw = static_cast<int>(std::thread::hardware_concurrency());
  if (cores >= hw) cores = hw / std::max(1, local_ranks);
  return std::max(1, cores);
}

void check_output_dir(const std::string& flag, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw UsageError(flag + " " + dir + ": cannot create the folder: " + ec.message());
  const std::string probe =
      dir + "/.rnn_dist_write_test." + std::to_string(::getpid()) + "." + std::to_string(launcher_rank());
  {
    std::ofstream out(probe);
    out << "ok";
    if (!out.flush()) throw UsageError(flag + " " + dir + ": the folder is not writable");
  }
  std::filesystem::remove(probe, ec);
}

int agree_on_setup_errors(comm::Communicator& comm, const std::string& error, int status) {
  // Each rank's status (0: no error) at its own index: the sum is every rank's.
  std::vector<double> failed(static_cast<std::size_t>(comm.size()), 0.0);
  failed[static_cast<std::size_t>(comm.rank())] = error.empty() ? 0.0 : std::max(1, status);
  comm.set_context("agreement on set-up errors");
  comm.allreduce_sum(failed);
  int count = 0, lowest = -1;
  for (int r = 0; r < comm.size(); ++r)
    if (failed[static_cast<std::size_t>(r)] > 0) {
      ++count;
      if (lowest < 0) lowest = r;
    }
  if (count == 0) return 0;
  if (comm.rank() == lowest) {
    // Failing everywhere (a mistyped path, a bad checkpoint) needs no rank; some ranks failing
    // (a host without the data) is told by rank and host.
    const std::string where = count == comm.size()
                                  ? ""
                                  : "rank " + std::to_string(lowest) + " (" + comm.host() + "): ";
    std::string others = count > 1 && count < comm.size()
                             ? " (and on " + std::to_string(count - 1) + " other rank(s))"
                             : "";
    std::fprintf(stderr, "rnn_dist: error: %s%s%s\n", where.c_str(), printable(error).c_str(),
                 others.c_str());
    std::fflush(stderr);
  }
  return static_cast<int>(failed[static_cast<std::size_t>(lowest)]);
}

Failure failure_of(const std::string& what, const std::function<void()>& step) {
  try {
    step();
    return {};
  } catch (const UsageError& e) {
    return {e.what(), kExitUsage};
  } catch (const std::bad_alloc&) {
    return {out_of_memory_message(what), kExitRuntime};
  } catch (const std::exception& e) {
    return {e.what(), kExitRuntime};
  }
}

int run_or_abort(comm::Communicator& comm, const std::string& what,
                 const std::function<int()>& work) {
  int result = kExitOk;
  const Failure f = failure_of(what, [&] { result = work(); });
  if (f.status == kExitOk) return result;
  comm.abort(printable(f.message), f.status);
  __builtin_unreachable();  // abort never returns; GCC does not apply [[noreturn]] to a virtual call
}

int open_dataset(comm::Communicator& comm, const std::string& data_path,
                 double collective_timeout, std::optional<data::PreparedDataset>& dataset,
                 std::string& prepared) {
  Failure f;
  if (comm.rank() == 0)
    f = failure_of("preparing " + data_path, [&] { prepared = data::ensure_prepared(data_path); });
  comm.set_context("waiting for rank 0 to prepare the dataset");
  // Tokenising the 50,000 reviews takes about 2.5 s here: allow a disk 100x slower than that
  // even under a short --collective-timeout. (A timeout <= 0, no deadline, stays off.)
  comm.set_deadline(collective_timeout > 0 ? std::max(collective_timeout, kPrepareSeconds) : 0);
  const int prepared_status = agree_on_setup_errors(comm, f.message, f.status);
  comm.set_deadline(collective_timeout);
  if (prepared_status != 0) return prepared_status;
  f = failure_of("opening " + data_path, [&] {
    if (comm.rank() != 0) prepared = data::ensure_prepared(data_path);
    dataset.emplace(prepared);
  });
  return agree_on_setup_errors(comm, f.message, f.status);
}

std::string check_same_data(comm::Communicator& comm, const data::PreparedDataset& dataset,
                            const std::string& path) {
  // What the examples are, not where they came from: the source folder's path and mtime may
  // differ between hosts that hold the same copy.
  pb::PreparedHeader header = dataset.header();
  header.clear_source();
  header.clear_source_fingerprint();
  std::string bytes;
  header.SerializeToString(&bytes);
  std::uint64_t mine = std::hash<std::string>{}(bytes), root = mine;
  std::error_code ec;
  std::string where = std::filesystem::absolute(path, ec).lexically_normal().string();
  std::vector<std::uint8_t> root_path(where.begin(), where.end());
  std::uint64_t length = root_path.size();
  comm.set_context("data agreement");
  comm.broadcast(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(&root), sizeof root));
  comm.broadcast(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(&length), sizeof length));
  root_path.resize(length);
  comm.broadcast(std::span<std::uint8_t>(root_path));
  if (mine == root) return "";
  return "the data at " + where + " differs from rank 0's (" + comm.all_hosts().front() + ":" +
         std::string(root_path.begin(), root_path.end()) +
         "): every host must hold the same prepared file (copy rank 0's, or prepare it from the "
         "same aclImdb copy)";
}

std::string dataset_summary(const data::PreparedDataset& dataset, const std::string& path) {
  std::ostringstream out;
  out << "Dataset " << path << "\n";
  out << "  vocabulary: " << dataset.vocabulary().size() << " words in the training split\n";
  for (const char* name : {"train", "test"}) {
    const auto split = dataset.split(name);
    std::size_t pos = 0, tokens = 0;
    for (std::size_t i = 0; i < split.size(); ++i) {
      pos += split.label(i);
      tokens += split.tokens(i).size();
    }
    out << "  " << name << ": " << split.size() << " reviews (" << pos << " positive, "
        << split.size() - pos << " negative), mean length "
        << (split.size() ? tokens / split.size() : 0) << " tokens\n";
  }
  return out.str();
}

std::string run_header(const Options& o, int argc, char** argv,
                       const std::vector<std::string>& hosts, const std::vector<int>& nodes,
                       int threads,
                       const data::PreparedDataset& dataset, const std::string& prepared_path,
                       const model::Model& model, std::size_t validation_examples) {
  std::ostringstream out;
  out << "rnn_dist " << version() << ":";
  for (int i = 0; i < argc; ++i) out << " " << argv[i];
  out << "\n";
  // Hosts are the launcher's nodes (what the thread choice divides the cores among); names label
  // them and may repeat (simulated hosts, containers).
  std::vector<int> per_node;
  std::vector<std::string> node_name;
  for (std::size_t r = 0; r < hosts.size(); ++r) {
    const auto n = static_cast<std::size_t>(nodes[r]);
    if (n >= per_node.size()) per_node.resize(n + 1), node_name.resize(n + 1);
    ++per_node[n];
    node_name[n] = hosts[r];
  }
  const int world = static_cast<int>(hosts.size());
  out << "ranks: " << world << " on " << per_node.size() << " host(s) (";
  for (std::size_t n = 0; n < per_node.size(); ++n)
    out << (n ? ", " : "") << node_name[n] << " x" << per_node[n];
  out << "), " << threads << " thread(s) per rank, subnormals "
      << (model::flush_denormals() ? "flushed to zero" : "kept (IEEE)") << "\n";
  const auto train = dataset.split("train");
  out << "data: " << prepared_path << " (" << train.size() - validation_examples << " train, "
      << validation_examples << " validation, " << dataset.split("test").size()
      << " test reviews); num_words " << o.sequence.num_words << ", maxlen " << o.sequence.maxlen
      << ", padding " << data::padding_name(o.sequence.padding) << ", truncating "
      << data::padding_name(o.sequence.truncating) << (o.model.mask_padding ? ", masked + bucketed" : "")
      << "\n";
  out << model.summary();
  // Ranks and threads take whole micro-batches (train/gradient_step.h).
  const int b = o.train.batch_size, m = o.train.micro_batch;
  const int micros = (b + m - 1) / m;
  out << "batch: " << b << " global, " << micros << " micro-batch(es) of " << m << ", "
      << micros / world;
  if (micros % world) out << "-" << micros / world + 1;
  out << " per rank; " << o.train.epochs << " epochs, seed " << o.train.seed << "\n";
  if (micros < world * threads)
    out << "note: " << world << " rank(s) x " << threads << " thread(s) for " << micros
        << " micro-batch(es): some have nothing to do each step (a smaller --micro-batch gives "
           "them work; results then differ from this --micro-batch's)\n";
  const auto& opt = o.optimizer;
  out << "optimizer: " << opt.name << " lr " << opt.lr;
  if (opt.name == "rmsprop") out << " rho " << opt.rho;
  if (opt.name == "sgd") out << " momentum " << opt.momentum << (opt.nesterov ? " nesterov" : "");
  out << " epsilon " << opt.epsilon;
  if (opt.clip_norm > 0) out << ", clip-norm " << opt.clip_norm;
  out << "\noutput: " << o.output_dir << " (effective configuration in config.ini";
  if (o.verbosity == train::Verbosity::kVerbose) {
    out << "):\n" << o.effective_config;
  } else {
    out << "; --verbose prints it)\n";
  }
  return out.str();
}

}  // namespace rnn_dist::cli
