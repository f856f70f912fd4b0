#!/usr/bin/env bash
# cli_progress.sh <rnn_dist> <mpirun> <prepared data file>
#
# Progress output (--progress auto|bar|lines, --quiet):
#  - not a terminal (stdout to a file; one process, and mpirun -np 2): plain lines only, no
#    carriage return, no escape sequence; "Epoch 1/N" and the Keras epoch summary line;
#  - a terminal (util-linux `script` gives the process a pty): the bar is redrawn in place with
#    '\r'; under mpirun, auto gives lines even on a terminal, and --progress bar forces the bar;
#  - --quiet: no progress at all, but the final lines;
#  - stdout a pipe that closes after the first line: the training still ends normally.
# A pty turns every '\n' into "\r\n", so a redraw is a '\r' NOT followed by '\n'.
BIN=$1
MPIRUN=$2
DATA=$3
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
need_data "$DATA"
RUN=(--data "$DATA" "${SMALL_RUN[@]}" --epochs 1)  # the terminal and --quiet runs
RUN2=(--data "$DATA" "${SMALL_RUN[@]}" --epochs 2)

# bytes <file> <what>: how many redraws ('\r' not before '\n') or escapes (ESC) the file holds.
bytes() {
  /usr/bin/python3 - "$1" "$2" <<'EOF'
import re, sys
data = open(sys.argv[1], "rb").read()
print(len(re.findall(rb"\r(?!\n)", data)) if sys.argv[2] == "redraws" else data.count(b"\x1b"))
EOF
}

# plain_output <name> <file>: the checks every non-terminal run must pass.
plain_output() {
  local name=$1 file=$2
  check "$name: no carriage return" test "$(tr -cd '\r' <"$file" | wc -c)" -eq 0
  check "$name: no escape sequence" test "$(bytes "$file" escapes)" -eq 0
  check "$name: 'Epoch 1/2' and 'Epoch 2/2'" \
      bash -c "grep -qx 'Epoch 1/2' '$file' && grep -qx 'Epoch 2/2' '$file'"
  # 40/40 - 2s - 5884 examples/s - loss: 0.6924 - acc: 0.5158 - val_loss: 0.6914 - val_acc: 0.5172
  check "$name: two epoch summary lines 'S/S - T - N examples/s - loss - acc - val_loss - val_acc'" \
      test "$(count_lines '^([0-9]+)/\1 - [0-9hms ]+ - [0-9]+ examples/s - loss: [0-9.]+ - acc: [0-9.]+ - val_loss: [0-9.]+ - val_acc: [0-9.]+$' "$file")" -eq 2
}

# run <name> <command...>: run with stdout and stderr to $SCRATCH/<name>.out, check status 0.
run() {
  local name=$1 status
  shift
  timeout 120 "$@" </dev/null >"$SCRATCH/$name.out" 2>&1
  status=$?
  check "$name: exits 0 (status $status)" test $status -eq 0
  ((status == 0)) || show "$SCRATCH/$name.out" "output of $name"
}

# tty <command...>: a `script` command line that runs the command with a pty as its terminal
# (-e passes its status on), in the array TTY.
tty() { TTY=(script -qfec "$(printf '%q ' "$@")" /dev/null); }

# 1. Not a terminal.
run file_single "$BIN" "${RUN2[@]}" --output-dir "$SCRATCH/o1"
plain_output file_single "$SCRATCH/file_single.out"
run file_mpi "$MPIRUN" -np 2 "$BIN" "${RUN2[@]}" --output-dir "$SCRATCH/o2"
plain_output file_mpi "$SCRATCH/file_mpi.out"

# 2. A terminal: one process redraws a bar; under mpirun auto means lines; --progress bar forces it.
tty "$BIN" "${RUN[@]}" --output-dir "$SCRATCH/o3"
run tty_single "${TTY[@]}"
n=$(bytes "$SCRATCH/tty_single.out" redraws)
check "tty_single: the bar is redrawn with '\\r' ($n redraws, at least 2)" test "$n" -ge 2
check "tty_single: the bar is drawn ('S/S [==============================]')" \
    grep -Eq '([0-9]+)/\1 \[=+\]' "$SCRATCH/tty_single.out"
check "tty_single: the epoch summary line" \
    grep -Eq 'loss: [0-9.]+ - acc: [0-9.]+ - val_loss: [0-9.]+ - val_acc: [0-9.]+' "$SCRATCH/tty_single.out"
tty "$MPIRUN" -np 2 "$BIN" "${RUN[@]}" --output-dir "$SCRATCH/o4"
run tty_mpi_auto "${TTY[@]}"
n=$(bytes "$SCRATCH/tty_mpi_auto.out" redraws)
check "tty_mpi_auto: --progress auto under mpirun prints lines, even on a terminal ($n redraws)" test "$n" -eq 0
run file_mpi_bar "$MPIRUN" -np 2 "$BIN" "${RUN[@]}" --progress bar --output-dir "$SCRATCH/o5"
n=$(bytes "$SCRATCH/file_mpi_bar.out" redraws)
check "file_mpi_bar: --progress bar under mpirun redraws with '\\r' ($n redraws, at least 2)" test "$n" -ge 2

# 3. --quiet, on a terminal: no progress, but the final lines.
tty "$BIN" "${RUN[@]}" --quiet --output-dir "$SCRATCH/o6"
run tty_quiet "${TTY[@]}"
out="$SCRATCH/tty_quiet.out"
check "tty_quiet: no redraw" test "$(bytes "$out" redraws)" -eq 0
check "tty_quiet: no 'Epoch' line, no step or epoch line, no header" \
    bash -c "! grep -Eq '^Epoch |examples/s|^rnn_dist [0-9]|^batch: ' '$out'"
check "tty_quiet: the final lines ('best val_acc: ... history in', 'checkpoint: ')" \
    bash -c "grep -Eq '^best val_acc: [0-9.]+ \(epoch 1\); history in ' '$out' && grep -q '^checkpoint: ' '$out'"

# 4. Standard output a pipe whose reader goes away after the first line (`| head -1`): the
#    training runs to its end (status 0, its checkpoint written) instead of dying of SIGPIPE
#    (status 141) at its next progress line. Alone, and under mpirun, whose rank 0 reaches the
#    pipe through mpirun.
for mode in single mpi; do
  launcher=()
  [[ $mode == mpi ]] && launcher=("$MPIRUN" -np 2)
  timeout 120 "${launcher[@]}" "$BIN" "${RUN[@]}" --output-dir "$SCRATCH/pipe_$mode" </dev/null \
      2>"$SCRATCH/pipe_$mode.err" | head -n 1 >/dev/null
  status=${PIPESTATUS[0]}
  check "pipe_$mode: output into a pipe closed after one line: exits 0 (status $status)" test "$status" -eq 0
  ((status == 0)) || show "$SCRATCH/pipe_$mode.err" "stderr of pipe_$mode"
  check "pipe_$mode: the final checkpoint is written" \
      bash -c "ls '$SCRATCH/pipe_$mode/checkpoints/'ckpt-*.rnnd >/dev/null 2>&1"
done

finish
