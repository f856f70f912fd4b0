#include "comm/mpi_communicator.h"

#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <thread>

#include "comm/internal/arrival_tracker.h"
#include "comm/internal/mpi_check.h"
#include "comm/work_share.h"

namespace rnn_dist::comm {

using internal::abort_job;
using internal::check;
using Clock = std::chrono::steady_clock;

namespace {

// Waiting for a collective's requests: MPI_Testall in a tight loop for the first kSpin of each
// wait (a healthy job's messages arrive within it), then with sleeps of kMinSleep growing to
// kMaxSleep in between, so a rank waiting for a slow peer leaves the core to the peer (2-core
// machines, threads per rank).
constexpr auto kSpin = std::chrono::microseconds(1000);
constexpr auto kMinSleep = std::chrono::microseconds(50);
constexpr auto kMaxSleep = std::chrono::microseconds(200);

// Extra time a rank waits past the deadline before it reports, by watcher index (rank 0, rank 1,
// everyone else), so the best-informed rank normally speaks first and alone: longer than Open
// MPI takes to end the job after the first MPI_Abort (about 1-2 s here).
double grace_seconds(double deadline) { return std::clamp(0.25 * deadline, 3.0, 10.0); }
// Time for the roll call (ArrivalTracker::answer_roll_call) of the ranks still waiting to reach
// the watchers after their deadlines passed.
constexpr double kSettleSeconds = 1.0;

// Buffers of at least this many elements are summed round a ring of point-to-point messages;
// smaller ones with MPI_Iallreduce (a few round trips beat 2 (P - 1) ring steps there).
constexpr std::size_t kRingMinElements = 4096;
constexpr int kRingTag = 11;
// A shared-memory sum's piece per rank: small enough that a piece of every slot a rank reads in
// a phase stays in its L2 (1 MiB here), and that 64 ranks on one node need 16 MiB of /dev/shm.
constexpr std::size_t kSlotBytes = 256 * 1024;
constexpr std::size_t kFlagBytes = 64;  // a cache line of its own for each rank's flag

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

std::string format_seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", s);
  return text;
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
  MPI_Comm comm = MPI_COMM_NULL;      // collectives (non-blocking MPI collectives)
  MPI_Comm ring = MPI_COMM_NULL;      // the ring all-reduce's point-to-point messages
  MPI_Comm arrivals = MPI_COMM_NULL;  // arrival and roll-call messages only (ArrivalTracker)
  int rank = 0;
  int size = 1;
  std::string host;
  std::vector<std::string> hosts;  // by rank
  std::vector<int> nodes;          // by rank
  int local_size = 1;
  MPI_Comm node = MPI_COMM_NULL;   // this rank's node (shared-memory domain)
  // take_work's word: in a shared memory window of the node's ranks (work_window), or own_word
  // when the node is this rank alone or MPI gave no window; work_groups by rank.
  MPI_Win work_window = MPI_WIN_NULL;
  std::uint64_t own_word = 0;
  std::uint64_t* work_word = &own_word;
  std::vector<int> work_groups;
  double deadline = 0;
  std::string context;
  std::size_t max_chunk = INT_MAX;
  std::uint64_t seq = 0;  // number of collectives started, the same on every rank
  internal::ArrivalTracker tracker;
  std::function<void()> fault;
  std::vector<char> scratch;  // the ring's receive buffer; grows, never shrinks
  // How large sums move (set_sum_algorithm, RNN_DIST_ALLREDUCE).
  SumAlgorithm algorithm = SumAlgorithm::kRing;
  // A job on one node sums through shared memory (shm_sum): one window, in which each rank has
  // a cache line for its flag and kSlotBytes for its part of a piece. Empty otherwise.
  MPI_Win sum_window = MPI_WIN_NULL;
  std::vector<std::uint64_t*> sum_flags;  // by rank
  std::vector<char*> sum_slots;           // by rank
  std::uint64_t sum_pieces = 0;           // pieces summed so far, the same on every rank

  // The collective in progress.
  const char* what = "";
  Clock::time_point start;
  bool roll_called = false;

  // Starts collective number ++seq: reports the arrival to the watchers.
  void begin(const char* name) {
    what = name;
    ++seq;
    start = Clock::now();
    roll_called = false;
    if (deadline > 0 && size > 1) tracker.arrive(seq);
  }

  // Runs the injected fault, once: inside the next collective's transfer.
  void run_fault() {
    if (auto f = std::move(fault)) {
      fault = nullptr;
      f();
    }
  }

  // Completes `requests` (peers[i]: the rank request i exchanges with, -1 for a collective) by
  // polling against the deadline. The first call of a collective runs an injected fault after
  // the requests were posted, i.e. inside the transfer.
  void complete(MPI_Request* requests, int count, const int* peers) {
    run_fault();
    wait_until(
        [&] {
          int done = 0;
          check(MPI_Testall(count, requests, &done, MPI_STATUSES_IGNORE), what);
          return done != 0;
        },
        [&] {
          std::vector<int> waiting;
          for (int i = 0; i < count; ++i) {
            int done = 0;
            if (peers[i] >= 0 && MPI_Test(&requests[i], &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && !done)
              waiting.push_back(peers[i]);
          }
          return waiting;
        });
  }

  // Polls done() against the deadline until it returns true; waiting_for() names the peers this
  // rank itself still waits for, for the message should the deadline pass.
  template <class Done, class WaitingFor>
  void wait_until(Done&& done, WaitingFor&& waiting_for) {
    if (done()) return;
    const Clock::duration limit = seconds(deadline);
    Clock::time_point report_at = start + limit + seconds(report_delay());
    // The spin counts from this wait, not from the collective's start: the ring's steps each
    // wait for one message, and a long transfer whose steps keep completing must not sleep
    // between them (in shared memory the copy itself only moves inside MPI calls).
    const Clock::time_point waiting_since = Clock::now();
    auto sleep = kMinSleep;
    for (;;) {
      if (done()) return;
      const Clock::time_point now = Clock::now();
      if (deadline > 0 && size > 1) {
        if (!roll_called && now - start >= limit) {
          tracker.answer_roll_call(seq);
          roll_called = true;
          // A rank that was itself frozen past its deadline (SIGSTOP, then SIGCONT from the
          // launcher ending the job) gives the others as long to report as they gave it.
          report_at = std::max(report_at, now + seconds(report_delay()));
        }
        if (roll_called && now >= report_at) timed_out(waiting_for());
      }
      if (now - waiting_since > kSpin) {
        std::this_thread::sleep_for(sleep);
        sleep = std::min(sleep * 2, kMaxSleep);
      }
    }
  }

  // How long past the deadline this rank waits before it reports: the watchers first (rank 0,
  // then rank 1 one grace period later), the others two grace periods after rank 1, each after
  // the roll call settled. The others' margin is the wider one: an abort reaches them through
  // their host's daemon, which sends SIGCONT, SIGTERM (a stop request here, which keeps the
  // rank waiting) and only a second later SIGKILL; with one grace period a loaded 2-core CI
  // machine sometimes let a non-watcher print a second report (cluster_faults,
  // stop_r0_checkpoint).
  double report_delay() const {
    const int index = tracker.watcher_index();
    const double graces = index < internal::ArrivalTracker::kWatchers ? index : index + 1;
    return kSettleSeconds + graces * grace_seconds(deadline);
  }

  void complete_one(MPI_Request& request) {
    const int peer = -1;
    complete(&request, 1, &peer);
  }

  // Calls post(offset, count) for the elements [offset, offset + count), in pieces of at most
  // max_chunk (MPI counts are int).
  template <class Post>
  void in_pieces(std::size_t elements, Post&& post) {
    std::size_t offset = 0;
    do {
      const std::size_t count = std::min(elements - offset, max_chunk);
      post(offset, count);
      offset += count;
    } while (offset < elements);
  }

  template <class T>
  void broadcast(std::span<T> data, MPI_Datatype type) {
    begin("broadcast");
    in_pieces(data.size(), [&](std::size_t offset, std::size_t count) {
      MPI_Request request = MPI_REQUEST_NULL;
      check(MPI_Ibcast(data.data() + offset, static_cast<int>(count), type, 0, comm, &request),
            "MPI_Ibcast");
      complete_one(request);
    });
  }

  // In place, with MPI's own non-blocking all-reduce (latency-bound sizes).
  template <class T>
  void allreduce(const char* name, std::span<T> data, MPI_Datatype type, MPI_Op op) {
    begin(name);
    in_pieces(data.size(), [&](std::size_t offset, std::size_t count) {
      MPI_Request request = MPI_REQUEST_NULL;
      check(MPI_Iallreduce(MPI_IN_PLACE, data.data() + offset, static_cast<int>(count), type, op,
                           comm, &request),
            "MPI_Iallreduce");
      complete_one(request);
    });
  }

  // In place: the sum over ranks. Large buffers go round a ring (reduce-scatter, then
  // all-gather: every rank sends and receives 2 (P-1)/P of the buffer, no rank more than
  // another); small ones take MPI's all-reduce.
  template <class T>
  void sum(std::span<T> data, MPI_Datatype type) {
    if (size == 1 || data.size() < kRingMinElements) return allreduce("all-reduce", data, type, MPI_SUM);
    if (algorithm == SumAlgorithm::kMpiBlocking) {
      begin("all-reduce");
      in_pieces(data.size(), [&](std::size_t offset, std::size_t count) {
        check(MPI_Allreduce(MPI_IN_PLACE, data.data() + offset, static_cast<int>(count), type,
                            MPI_SUM, comm),
              "MPI_Allreduce");
      });
      return;
    }
    begin("all-reduce");
    if (algorithm == SumAlgorithm::kSharedMemory && sum_window != MPI_WIN_NULL) {
      const std::size_t per = kSlotBytes / sizeof(T);
      for (std::size_t offset = 0; offset < data.size(); offset += per)
        shm_piece(data.subspan(offset, std::min(per, data.size() - offset)), offset == 0);
      return;
    }
    in_pieces(data.size(), [&](std::size_t offset, std::size_t count) {
      ring_sum(data.subspan(offset, count), type);
    });
  }

  // One piece of a shared-memory sum, in three phases, each ending with this rank's flag set
  // to the phase's number (3 per piece, counted over the job) and a wait for every rank's:
  //   1. copy the piece into this rank's slot;
  //   2. add the other ranks' slots into segment `rank` of this rank's slot (P segments, as the
  //      ring's), so each segment is added up once, by one rank, in one order;
  //   3. copy every rank's finished segment from its slot into the piece.
  // A rank writes its slot again only once every rank has finished phase 3 of the previous
  // piece, i.e. read what it needed from it. Every wait is under the deadline, and names the
  // ranks whose flag is behind should it pass.
  template <class T>
  void shm_piece(std::span<T> x, bool first) {
    const std::uint64_t phase = 3 * sum_pieces++;
    wait_for_flags(phase);
    T* mine = reinterpret_cast<T*>(sum_slots[static_cast<std::size_t>(rank)]);
    std::copy(x.begin(), x.end(), mine);
    set_flag(phase + 1);
    if (first) run_fault();
    wait_for_flags(phase + 1);
    const std::size_t n = x.size(), b = seg(n, size, rank), e = seg(n, size, rank + 1);
    for (int p = 0; p < size; ++p) {
      if (p == rank) continue;
      const T* in = reinterpret_cast<const T*>(sum_slots[static_cast<std::size_t>(p)]);
      for (std::size_t i = b; i < e; ++i) mine[i] += in[i];
    }
    set_flag(phase + 2);
    wait_for_flags(phase + 2);
    for (int p = 0; p < size; ++p) {
      const T* done = reinterpret_cast<const T*>(sum_slots[static_cast<std::size_t>(p)]);
      std::copy(done + seg(n, size, p), done + seg(n, size, p + 1), x.data() + seg(n, size, p));
    }
    set_flag(phase + 3);
  }

  void set_flag(std::uint64_t value) {
    std::atomic_ref<std::uint64_t>(*sum_flags[static_cast<std::size_t>(rank)])
        .store(value, std::memory_order_release);
  }
  std::uint64_t flag(int p) const {
    return std::atomic_ref<std::uint64_t>(*sum_flags[static_cast<std::size_t>(p)])
        .load(std::memory_order_acquire);
  }
  // Waiting for flags makes no MPI call of its own, so it drives MPI's progress engine (an
  // MPI_Iprobe that takes nothing): the arrival messages of this rank (internal/
  // arrival_tracker.h) must leave, and a watcher's come in, while it waits.
  void wait_for_flags(std::uint64_t value) {
    wait_until(
        [&] {
          for (int p = 0; p < size; ++p)
            if (flag(p) < value) {
              int any = 0;
              check(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, arrivals, &any, MPI_STATUS_IGNORE),
                    "MPI_Iprobe");
              return false;
            }
          return true;
        },
        [&] {
          std::vector<int> behind;
          for (int p = 0; p < size; ++p)
            if (flag(p) < value) behind.push_back(p);
          return behind;
        });
  }

  // Segment k of P of n elements: [seg(k), seg(k + 1)).
  static std::size_t seg(std::size_t n, int parts, int k) {
    const auto p = static_cast<std::size_t>(parts), i = static_cast<std::size_t>(k);
    return n / p * i + std::min(i, n % p);
  }

  template <class T>
  void ring_sum(std::span<T> data, MPI_Datatype type) {
    const std::size_t n = data.size();
    const int left = (rank + size - 1) % size, right = (rank + 1) % size;
    const int peers[2] = {left, right};
    const std::size_t most = seg(n, size, 1);
    if (scratch.size() < most * sizeof(T)) scratch.resize(most * sizeof(T));
    T* in = reinterpret_cast<T*>(scratch.data());
    auto exchange = [&](T* recv_to, int recv_k, int send_k) {
      MPI_Request requests[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
      const std::size_t rb = seg(n, size, recv_k), re = seg(n, size, recv_k + 1);
      const std::size_t sb = seg(n, size, send_k), se = seg(n, size, send_k + 1);
      check(MPI_Irecv(recv_to ? recv_to : data.data() + rb, static_cast<int>(re - rb), type, left,
                      kRingTag, ring, &requests[0]),
            "MPI_Irecv");
      check(MPI_Isend(data.data() + sb, static_cast<int>(se - sb), type, right, kRingTag, ring,
                      &requests[1]),
            "MPI_Isend");
      complete(requests, 2, peers);
      return std::pair{rb, re};
    };
    // Reduce-scatter: after step s, segment (rank - s - 1) holds s + 2 ranks' parts; after P - 1
    // steps this rank holds the whole sum of segment (rank + 1).
    for (int s = 0; s + 1 < size; ++s) {
      const int send_k = (rank - s + size) % size, recv_k = (rank - s - 1 + 2 * size) % size;
      const auto [b, e] = exchange(in, recv_k, send_k);
      T* out = data.data() + b;
      for (std::size_t i = 0; i < e - b; ++i) out[i] += in[i];
    }
    // All-gather: pass the finished segments on round the ring.
    for (int s = 0; s + 1 < size; ++s) {
      const int send_k = (rank + 1 - s + size) % size, recv_k = (rank - s + size) % size;
      exchange(nullptr, recv_k, send_k);
    }
  }

  std::string rank_names(const std::vector<int>& ranks) const {
    std::string out;
    for (int r : ranks) {
      out += (out.empty() ? "" : ", ") + std::to_string(r) + " (" +
             hosts[static_cast<std::size_t>(r)] + ")";
    }
    return out;
  }

  [[noreturn]] void timed_out(const std::vector<int>& peers) {
    std::string message = std::string("collective ") + what + " #" + std::to_string(seq) +
                          " timed out after " + format_seconds(deadline) + " s";
    if (!context.empty()) message += " at " + context;
    std::vector<int> named;
    if (tracker.watcher_index() < internal::ArrivalTracker::kWatchers) {
      const std::vector<int> missing = tracker.missing(seq);
      const std::vector<int> silent = tracker.silent(seq);
      if (!missing.empty()) {
        named = missing;
        message += ": rank(s) " + rank_names(missing) + " did not arrive";
      } else if (!silent.empty()) {
        named = silent;
        message += ": rank(s) " + rank_names(silent) +
                   " arrived, then stopped answering (stopped, frozen, or cut off from the network)";
      } else {
        message += ": every rank arrived and still answers, but the data did not move";
      }
    } else {
      message += ": ranks 0 and 1, which track arrivals, did not report (they may be stuck)";
    }
    // The peers this rank itself still waits for (the ring's neighbours, the node's ranks whose
    // part of a shared-memory sum is not there yet), when that adds to the above: what a rank
    // that does not track arrivals can tell.
    std::vector<int> waiting;
    for (int p : peers)
      if (std::find(waiting.begin(), waiting.end(), p) == waiting.end() &&
          std::find(named.begin(), named.end(), p) == named.end())
        waiting.push_back(p);
    if (!waiting.empty()) message += "; this rank was waiting for rank(s) " + rank_names(waiting);
    abort_job(message, kStatusDeadline);
  }
};

namespace {

// A rank must never die of SIGPIPE. Open MPI's TCP transport writes with writev, which raises
// SIGPIPE when the peer's socket is gone; its default action ends the process silently. When one
// rank is killed, another that writes to it in that moment dies of signal 13, and mpirun, which
// reports only the first process to end, may then name that innocent rank ("rank 2 on h3 exited
// on signal 13") instead of the one that was killed. Ignored, the write fails with EPIPE, Open
// MPI prints that the peer on host X disconnected, and the launcher ends the job naming the rank
// that really died. (The same holds for a closed output pipe.) A handler the program set itself
// is left alone.
void ignore_broken_pipes() {
  struct sigaction current {};
  if (sigaction(SIGPIPE, nullptr, &current) != 0) return;
  if ((current.sa_flags & SA_SIGINFO) == 0 && current.sa_handler == SIG_DFL)
    std::signal(SIGPIPE, SIG_IGN);
}

}  // namespace

MpiCommunicator::MpiCommunicator(int* argc, char*** argv) : impl_(std::make_unique<Impl>()) {
  ignore_broken_pipes();
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
  for (MPI_Comm* c : {&impl_->arrivals, &impl_->ring}) {
    check(MPI_Comm_dup(impl_->comm, c), "MPI_Comm_dup");
    check(MPI_Comm_set_errhandler(*c, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  }
  check(MPI_Comm_rank(impl_->comm, &impl_->rank), "MPI_Comm_rank");
  check(MPI_Comm_size(impl_->comm, &impl_->size), "MPI_Comm_size");
  char name[MPI_MAX_PROCESSOR_NAME] = {};
  int len = 0;
  check(MPI_Get_processor_name(name, &len), "MPI_Get_processor_name");
  impl_->host.assign(name, static_cast<std::size_t>(len));
  gather_placement();
  share_work();
  announce_start();
  impl_->tracker.start(impl_->arrivals);
  if (const char* algorithm = std::getenv("RNN_DIST_ALLREDUCE"); algorithm && *algorithm) {
    const std::string name = algorithm;
    if (name == "mpi-blocking") {
      set_sum_algorithm(SumAlgorithm::kMpiBlocking);
    } else if (name == "ring") {
      set_sum_algorithm(SumAlgorithm::kRing);
    } else if (name != "shared-memory") {
      abort_job("RNN_DIST_ALLREDUCE '" + name + "' must be shared-memory, ring or mpi-blocking", 2);
    }
  }
}

// Once every rank has exchanged its host name (so every rank is past MPI_Init), rank 0 says so
// when the launcher asks (kStartAnnouncementVariable): launch/rnn_mpirun.sh ends a job whose ranks
// never get this far, which Open MPI's mpirun itself would wait for without a limit.
void MpiCommunicator::announce_start() {
  const char* asked = std::getenv(kStartAnnouncementVariable);
  if (impl_->rank != 0 || asked == nullptr || *asked == '\0') return;
  std::vector<std::string> hosts = impl_->hosts;
  std::sort(hosts.begin(), hosts.end());
  const auto distinct = std::unique(hosts.begin(), hosts.end()) - hosts.begin();
  std::printf("%s%d rank%s on %td host%s\n", kStartAnnouncement, impl_->size,
              impl_->size == 1 ? "" : "s", distinct, distinct == 1 ? "" : "s");
  std::fflush(stdout);
}

// Host names and nodes of every rank, once, before any deadline is set (blocking calls).
void MpiCommunicator::gather_placement() {
  Impl& m = *impl_;
  const auto world = static_cast<std::size_t>(m.size);
  std::vector<char> mine(MPI_MAX_PROCESSOR_NAME, '\0');
  std::copy(m.host.begin(), m.host.end(), mine.begin());
  std::vector<char> all(mine.size() * world);
  check(MPI_Allgather(mine.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all.data(),
                      MPI_MAX_PROCESSOR_NAME, MPI_CHAR, m.comm),
        "MPI_Allgather");
  for (std::size_t r = 0; r < world; ++r) m.hosts.emplace_back(all.data() + r * MPI_MAX_PROCESSOR_NAME);
  // A node is what MPI sees as one shared-memory domain; its lowest rank names it.
  check(MPI_Comm_split_type(m.comm, MPI_COMM_TYPE_SHARED, m.rank, MPI_INFO_NULL, &m.node),
        "MPI_Comm_split_type");
  check(MPI_Comm_set_errhandler(m.node, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_size(m.node, &m.local_size), "MPI_Comm_size");
  int leader = m.rank;
  check(MPI_Allreduce(MPI_IN_PLACE, &leader, 1, MPI_INT, MPI_MIN, m.node), "MPI_Allreduce");
  std::vector<int> leaders(world);
  check(MPI_Allgather(&leader, 1, MPI_INT, leaders.data(), 1, MPI_INT, m.comm), "MPI_Allgather");
  std::vector<int> index(world, -1);
  int next = 0;
  for (std::size_t r = 0; r < world; ++r) {
    auto& i = index[static_cast<std::size_t>(leaders[r])];
    if (i < 0) i = next++;
    m.nodes.push_back(i);
  }
}

// take_work's word for each node of more than one rank: 8 bytes in a shared memory window
// (MPI_Win_allocate_shared), which the node's lowest rank holds. Should MPI refuse a window on
// any node, every rank takes work alone (the groups are the ranks), so that all ranks agree.
void MpiCommunicator::share_work() {
  Impl& m = *impl_;
  int node_rank = 0;
  check(MPI_Comm_rank(m.node, &node_rank), "MPI_Comm_rank");
  int shared = 1;
  if (m.local_size > 1) {
    void* base = nullptr;
    const MPI_Aint bytes = node_rank == 0 ? MPI_Aint{sizeof(std::uint64_t)} : 0;
    shared = MPI_Win_allocate_shared(bytes, sizeof(std::uint64_t), MPI_INFO_NULL, m.node, &base,
                                     &m.work_window) == MPI_SUCCESS;
    if (shared) {
      MPI_Aint size = 0;
      int unit = 0;
      shared = MPI_Win_shared_query(m.work_window, 0, &size, &unit, &base) == MPI_SUCCESS &&
               size >= MPI_Aint{sizeof(std::uint64_t)} &&
               reinterpret_cast<std::uintptr_t>(base) % alignof(std::uint64_t) == 0;
    }
    if (shared) {
      m.work_word = static_cast<std::uint64_t*>(base);
      if (node_rank == 0) std::atomic_ref<std::uint64_t>(*m.work_word).store(0);
    }
  }
  check(MPI_Allreduce(MPI_IN_PLACE, &shared, 1, MPI_INT, MPI_MIN, m.comm), "MPI_Allreduce");
  if (shared) {
    m.work_groups = m.nodes;
  } else {
    m.work_word = &m.own_word;
    for (int r = 0; r < m.size; ++r) m.work_groups.push_back(r);
  }
  share_sums();
  // The word is zero, and the sums' flags too, before any rank uses them.
  check(MPI_Barrier(m.comm), "MPI_Barrier");
}

// A job whose ranks are all on one node sums large buffers through a shared window (shm_sum):
// every rank allocates its flag's cache line and its slot, and finds the others'. Should MPI
// refuse on any rank, all ranks sum round the ring.
void MpiCommunicator::share_sums() {
  Impl& m = *impl_;
  if (m.size == 1 || m.local_size != m.size) return;
  void* base = nullptr;
  // Open MPI's segments need not start on a cache line: one spare line to align the flag.
  constexpr std::size_t kBytes = 2 * kFlagBytes + kSlotBytes;
  int ok = MPI_Win_allocate_shared(static_cast<MPI_Aint>(kBytes), 1, MPI_INFO_NULL, m.node, &base,
                                   &m.sum_window) == MPI_SUCCESS;
  for (int p = 0; ok && p < m.size; ++p) {
    MPI_Aint bytes = 0;
    int unit = 0;
    void* at = nullptr;
    ok = MPI_Win_shared_query(m.sum_window, p, &bytes, &unit, &at) == MPI_SUCCESS &&
         bytes >= static_cast<MPI_Aint>(kBytes);
    if (ok) {
      const auto address = reinterpret_cast<std::uintptr_t>(at);
      char* line = static_cast<char*>(at) + (kFlagBytes - address % kFlagBytes) % kFlagBytes;
      m.sum_flags.push_back(reinterpret_cast<std::uint64_t*>(line));
      m.sum_slots.push_back(line + kFlagBytes);
    }
  }
  check(MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, m.comm), "MPI_Allreduce");
  if (!ok) {
    if (m.sum_window != MPI_WIN_NULL) MPI_Win_free(&m.sum_window);
    m.sum_window = MPI_WIN_NULL;
    m.sum_flags.clear();
    m.sum_slots.clear();
    return;
  }
  // Touch the whole slot now: a /dev/shm too small to hold it fails here, at start-up.
  std::fill_n(m.sum_slots[static_cast<std::size_t>(m.rank)], kSlotBytes, char{0});
  std::atomic_ref<std::uint64_t>(*m.sum_flags[static_cast<std::size_t>(m.rank)]).store(0);
  m.algorithm = SumAlgorithm::kSharedMemory;
}

MpiCommunicator::~MpiCommunicator() {
  // Finalising while an exception unwinds would leave peers waiting in a collective (or hang in
  // MPI_Finalize with them): end the whole job instead.
  if (std::uncaught_exceptions() > 0) {
    abort_job("an exception is unwinding past the communicator; ending the job", 1);
  }
  impl_->tracker.stop();
  if (impl_->work_window != MPI_WIN_NULL) MPI_Win_free(&impl_->work_window);
  if (impl_->sum_window != MPI_WIN_NULL) MPI_Win_free(&impl_->sum_window);
  MPI_Comm_free(&impl_->node);
  MPI_Comm_free(&impl_->ring);
  MPI_Comm_free(&impl_->arrivals);
  MPI_Comm_free(&impl_->comm);
  if (impl_->owns_mpi) MPI_Finalize();
}

int MpiCommunicator::rank() const { return impl_->rank; }
int MpiCommunicator::size() const { return impl_->size; }
std::string MpiCommunicator::host() const { return impl_->host; }

std::vector<std::string> MpiCommunicator::all_hosts() { return impl_->hosts; }
std::vector<int> MpiCommunicator::all_nodes() { return impl_->nodes; }
int MpiCommunicator::local_size() const { return impl_->local_size; }

// The round is the number of collectives started, which every rank agrees on between two
// collectives. Read here from any thread: only the thread that calls collectives changes it,
// and not while other threads take work (they run between two collectives).
std::int64_t MpiCommunicator::take_work(std::int64_t items) {
  return take_from(*impl_->work_word, impl_->seq, items);
}
std::vector<int> MpiCommunicator::all_work_groups() { return impl_->work_groups; }

void MpiCommunicator::broadcast(std::span<float> data) { impl_->broadcast(data, MPI_FLOAT); }
void MpiCommunicator::broadcast(std::span<std::uint8_t> data) { impl_->broadcast(data, MPI_UINT8_T); }

void MpiCommunicator::allreduce_sum(std::span<float> data) { impl_->sum(data, MPI_FLOAT); }
void MpiCommunicator::allreduce_sum(std::span<double> data) { impl_->sum(data, MPI_DOUBLE); }
void MpiCommunicator::allreduce_sum(std::span<std::int64_t> data) { impl_->sum(data, MPI_INT64_T); }
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
  impl_->begin("barrier");
  MPI_Request request = MPI_REQUEST_NULL;
  check(MPI_Ibarrier(impl_->comm, &request), "MPI_Ibarrier");
  impl_->complete_one(request);
}

void MpiCommunicator::abort(const std::string& message, int status) { abort_job(message, status); }

void MpiCommunicator::set_deadline(double seconds) { impl_->deadline = seconds; }
void MpiCommunicator::set_context(const std::string& context) { impl_->context = context; }
void MpiCommunicator::inject_fault_in_next_collective(std::function<void()> fault) {
  impl_->fault = std::move(fault);
}

void MpiCommunicator::set_sum_algorithm(SumAlgorithm algorithm) { impl_->algorithm = algorithm; }

bool MpiCommunicator::shared_memory_sums() const { return impl_->sum_window != MPI_WIN_NULL; }

void MpiCommunicator::set_max_chunk(std::size_t elements) {
  impl_->max_chunk = std::clamp<std::size_t>(elements, 1, INT_MAX);
}

std::unique_ptr<Communicator> make_communicator(int* argc, char*** argv) {
  return std::make_unique<MpiCommunicator>(argc, argv);
}

}  // namespace rnn_dist::comm
