// Fault injection for the failure tests, driven by one environment variable so that the product
// binary itself is what the tests break:
//
//   RNN_DIST_FAULT=<kind>:<rank>:<step>[@<point>]
//     kind   throw  the rank throws a std::runtime_error (a crash inside training)
//            stop   the rank stops itself with SIGSTOP (a hung rank, a frozen host)
//            exit   the rank calls _exit(9) (a rank that dies without a word)
//            kill   the rank sends itself SIGKILL (kill -9)
//            nan    the rank sets its last parameter (the output bias, used by every example) to
//                   NaN, so the step's all-reduced gradient is not finite (non-finite handling)
//     point  where, the first time it is reached once <step> global steps are done:
//            step        before the training step (the default)
//            allreduce   inside the step's gradient all-reduce, after this rank arrived and
//                        started sending (Communicator::inject_fault_in_next_collective)
//            epoch-end   at an epoch's end, inside its metric reduction
//            validation  at an epoch's end, before the validation pass
//            checkpoint  while rank 0 writes a checkpoint: its temporary file is complete, the
//                        rename not done (other ranks: at the same moment)
//
// Unset (always, outside tests) it costs nothing.
#pragma once

#include "comm/communicator.h"
#include "trainer/train/trainer.h"

namespace rnn_dist::cli {

// The fault hook for this rank, or an empty function when RNN_DIST_FAULT is unset or names
// another rank. `comm` must outlive the hook. Throws UsageError for a malformed value.
train::Trainer::FaultHook fault_hook_from_env(int rank, comm::Communicator& comm);

}  // namespace rnn_dist::cli
