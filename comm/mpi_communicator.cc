#include "comm/mpi_communicator.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <thread>

#include "comm/internal/arrival_tracker.h"
#include "comm/internal/mpi_check.h"

namespace rnn_dist::comm {

using internal::abort_job;
using internal::check;
using Clock = std::chrono::steady_clock;

namespace {

// Waiting at the arrival barrier: MPI_Test in a tight loop for kSpin (ranks of a healthy job
// arrive within it), then MPI_Test with sleeps of kMinSleep growing to kMaxSleep in between, so a
// rank waiting for a slow peer leaves the core to the peer (2-core machines, OpenMP threads).
constexpr auto kSpin = std::chrono::microseconds(1000);
constexpr auto kMinSleep = std::chrono::microseconds(50);
constexpr auto kMaxSleep = std::chrono::microseconds(200);

// Extra time a rank waits past the deadline before it reports, by watcher index (rank 0, rank 1,
// everyone else), so the best-informed rank normally speaks first and alone.
double grace_seconds(double deadline) { return std::clamp(0.25 * deadline, 0.5, 5.0); }

std::string format_seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", s);
  return text;
}

std::string join_ranks(const std::vector<int>& ranks) {
  std::string out;
  for (int r : ranks) out += (out.empty() ? "" : ", ") + std::to_string(r);
  return out;
}

[[noreturn]] void on_terminate() {
  std::string message = "std::terminate called";
  if (std::exception_ptr e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      message += " after an uncaught exception: " + std::string(ex.what());
    } catch (...) {
      message += " after an uncaught exception of unknown type";
    }
  }
  abort_job(message, 1);
}

}  // namespace

struct MpiCommunicator::Impl {
  bool owns_mpi = false;
  MPI_Comm comm = MPI_COMM_NULL;      // collectives
  MPI_Comm arrivals = MPI_COMM_NULL;  // arrival messages only (ArrivalTracker)
  int rank = 0;
  int size = 1;
  std::string host;
  double deadline = 0;
  std::string context;
  std::size_t max_chunk = INT_MAX;
  std::uint64_t seq = 0;  // number of collectives started, the same on every rank
  internal::ArrivalTracker tracker;

  // Runs collective number ++seq. `call(offset, count)` makes the blocking MPI call for the
  // elements [offset, offset + count), in chunks of at most max_chunk elements.
  //
  // With a deadline, the ranks first meet in an MPI_Ibarrier completed by a polling loop that
  // watches the clock (see wait); only when every rank has arrived do they run the blocking call.
  // Why not MPI_Iallreduce: Open MPI 4.1's non-blocking all-reduce (coll/libnbc) took 1.5-1.9x the
  // time of the blocking one (coll/tuned) for 40k-330k floats at -np 2; the barrier costs a few
  // microseconds. The price: a rank that stops inside the blocking call itself (after the
  // barrier) is not caught by the deadline; ranks stop in computation, before arriving.
  template <class Call>
  void run(const char* what, std::size_t elements, Call&& call) {
    const std::uint64_t n = ++seq;
    if (deadline > 0 && size > 1) {
      const Clock::time_point start = Clock::now();
      tracker.arrive(n);
      MPI_Request request = MPI_REQUEST_NULL;
      check(MPI_Ibarrier(comm, &request), "MPI_Ibarrier");
      wait(request, what, n, start);
    }
    std::size_t offset = 0;
    do {
      const std::size_t count = std::min(elements - offset, max_chunk);
      call(offset, static_cast<int>(count));
      offset += count;
    } while (offset < elements);
  }

  void wait(MPI_Request& request, const char* what, std::uint64_t n, Clock::time_point start) {
    int done = 0;
    check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what);
    if (done) return;
    const auto give_up =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                    deadline + tracker.watcher_index() * grace_seconds(deadline)));
    auto sleep = kMinSleep;
    for (;;) {
      check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what);
      if (done) return;
      const Clock::time_point now = Clock::now();
      if (now >= give_up) timed_out(what, n);
      if (now - start > kSpin) {
        std::this_thread::sleep_for(sleep);
        sleep = std::min(sleep * 2, kMaxSleep);
      }
    }
  }

  template <class T>
  void broadcast(std::span<T> data, MPI_Datatype type) {
    run("broadcast", data.size(), [&](std::size_t offset, int count) {
      check(MPI_Bcast(data.data() + offset, count, type, 0, comm), "MPI_Bcast");
    });
  }

  // In place: no buffer is allocated.
  template <class T>
  void allreduce(const char* what, std::span<T> data, MPI_Datatype type, MPI_Op op) {
    run(what, data.size(), [&](std::size_t offset, int count) {
      check(MPI_Allreduce(MPI_IN_PLACE, data.data() + offset, count, type, op, comm),
            "MPI_Allreduce");
    });
  }

  [[noreturn]] void timed_out(const char* what, std::uint64_t n) {
    std::string message = std::string("collective ") + what + " #" + std::to_string(n) +
                          " timed out after " + format_seconds(deadline) + " s";
    if (!context.empty()) message += " at " + context;
    if (tracker.watcher_index() < internal::ArrivalTracker::kWatchers) {
      const std::vector<int> missing = tracker.missing(n);
      if (missing.empty()) {
        message += ": every rank arrived but it did not complete (a rank stopped inside it?)";
      } else {
        message += ": rank(s) " + join_ranks(missing) + " did not arrive";
      }
    } else {
      message += ": ranks 0 and 1, which track arrivals, did not report (they may be stuck)";
    }
    abort_job(message, kStatusDeadline);
  }
};

MpiCommunicator::MpiCommunicator(int* argc, char*** argv) : impl_(std::make_unique<Impl>()) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
      std::fputs("rnn_dist: MPI_Init_thread failed\n", stderr);
      std::exit(kStatusMpiError);
    }
    impl_->owns_mpi = true;
  }
  std::set_terminate(on_terminate);
  check(MPI_Comm_dup(MPI_COMM_WORLD, &impl_->comm), "MPI_Comm_dup");
  check(MPI_Comm_set_errhandler(impl_->comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_dup(impl_->comm, &impl_->arrivals), "MPI_Comm_dup");
  check(MPI_Comm_set_errhandler(impl_->arrivals, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_rank(impl_->comm, &impl_->rank), "MPI_Comm_rank");
  check(MPI_Comm_size(impl_->comm, &impl_->size), "MPI_Comm_size");
  char name[MPI_MAX_PROCESSOR_NAME] = {};
  int len = 0;
  check(MPI_Get_processor_name(name, &len), "MPI_Get_processor_name");
  impl_->host.assign(name, static_cast<std::size_t>(len));
  impl_->tracker.start(impl_->arrivals);
}

MpiCommunicator::~MpiCommunicator() {
  // Finalising while an exception unwinds would leave peers waiting in a collective (or hang in
  // MPI_Finalize with them): end the whole job instead.
  if (std::uncaught_exceptions() > 0) {
    abort_job("an exception is unwinding past the communicator; ending the job", 1);
  }
  impl_->tracker.stop();
  MPI_Comm_free(&impl_->arrivals);
  MPI_Comm_free(&impl_->comm);
  if (impl_->owns_mpi) MPI_Finalize();
}

int MpiCommunicator::rank() const { return impl_->rank; }
int MpiCommunicator::size() const { return impl_->size; }
std::string MpiCommunicator::host() const { return impl_->host; }

std::vector<std::string> MpiCommunicator::all_hosts() {
  std::vector<char> mine(MPI_MAX_PROCESSOR_NAME, '\0');
  std::copy(impl_->host.begin(), impl_->host.end(), mine.begin());
  std::vector<char> all(mine.size() * static_cast<std::size_t>(impl_->size));
  impl_->run("all-gather", 1, [&](std::size_t, int) {
    check(MPI_Allgather(mine.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all.data(),
                        MPI_MAX_PROCESSOR_NAME, MPI_CHAR, impl_->comm),
          "MPI_Allgather");
  });
  std::vector<std::string> hosts;
  for (int r = 0; r < impl_->size; ++r) {
    hosts.emplace_back(all.data() + static_cast<std::size_t>(r) * MPI_MAX_PROCESSOR_NAME);
  }
  return hosts;
}

void MpiCommunicator::broadcast(std::span<float> data) { impl_->broadcast(data, MPI_FLOAT); }
void MpiCommunicator::broadcast(std::span<std::uint8_t> data) { impl_->broadcast(data, MPI_UINT8_T); }

void MpiCommunicator::allreduce_sum(std::span<float> data) {
  impl_->allreduce("all-reduce", data, MPI_FLOAT, MPI_SUM);
}
void MpiCommunicator::allreduce_sum(std::span<double> data) {
  impl_->allreduce("all-reduce", data, MPI_DOUBLE, MPI_SUM);
}
void MpiCommunicator::allreduce_max(std::span<double> data) {
  impl_->allreduce("all-reduce-max", data, MPI_DOUBLE, MPI_MAX);
}
void MpiCommunicator::allreduce_or(std::span<std::uint64_t> data) {
  impl_->allreduce("all-reduce-or", data, MPI_UINT64_T, MPI_BOR);
}

bool MpiCommunicator::any(bool flag) {
  int value = flag ? 1 : 0;
  impl_->allreduce("any", std::span<int>(&value, 1), MPI_INT, MPI_LOR);
  return value != 0;
}

void MpiCommunicator::barrier() {
  // With a deadline, run()'s arrival barrier is the barrier.
  const bool gated = impl_->deadline > 0 && impl_->size > 1;
  impl_->run("barrier", 1, [&](std::size_t, int) {
    if (!gated) check(MPI_Barrier(impl_->comm), "MPI_Barrier");
  });
}

void MpiCommunicator::abort(const std::string& message, int status) { abort_job(message, status); }

void MpiCommunicator::set_deadline(double seconds) { impl_->deadline = seconds; }
void MpiCommunicator::set_context(const std::string& context) { impl_->context = context; }

void MpiCommunicator::set_max_chunk(std::size_t elements) {
  impl_->max_chunk = std::clamp<std::size_t>(elements, 1, INT_MAX);
}

std::unique_ptr<Communicator> make_communicator(int* argc, char*** argv) {
  return std::make_unique<MpiCommunicator>(argc, argv);
}

}  // namespace rnn_dist::comm
