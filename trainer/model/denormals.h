// Subnormal floats in this thread's arithmetic: flushed to zero (FTZ: results that would be
// subnormal become 0; DAZ: subnormal inputs read as 0), as TensorFlow does on CPU, or kept (IEEE).
//
// Backward passes produce many subnormals (about 5% of the LSTM's input gradients at the
// tutorial's sizes), and on x86 every operation on one takes a slow microcode path: flushing
// makes those kernels several times faster and changes results by less than float's rounding
// at the scales that matter (tests/model/test_reference.cc runs the PyTorch fixtures both ways).
// The setting is per thread (x86 MXCSR) and inherited by threads created afterwards; every
// thread that computes sets it explicitly. A no-op where the CPU has no such mode.
#pragma once

namespace rnn_dist::model {

void set_flush_denormals(bool flush);
// This thread's setting (false where there is no such mode).
bool flush_denormals();

}  // namespace rnn_dist::model
