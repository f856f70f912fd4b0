#!/usr/bin/env bash
# ckpt_resume.sh RNN_DIST COMPARE_CHECKPOINTS PREPARED_DATA
#
# Interrupted training continues as if it had never stopped. A reference run (a) of 120 global
# steps at 2 ranks (79 steps per epoch, so epoch 1 ends inside) is repeated with interruptions,
# each resumed with --resume to step 120; the final checkpoint must equal (a)'s:
#   b1  rank 1 dies (_exit) before global step 57       -> --resume auto: bit-identical, history
#   b2  kill -9 of one rank once a checkpoint exists    -> --resume auto: bit-identical
#   c   SIGTERM to every rank (as srun does)            -> exit 3, checkpoint, resume: identical
#   c2  SIGTERM to mpirun itself                        -> reports what Open MPI does
#   c3  SIGUSR1 to mpirun (forwarded to the ranks)      -> exit 3 and a stop checkpoint
#   d   a 2-rank checkpoint resumed on 3 ranks          -> bit-identical, history (exact sums)
#   e   newest checkpoint truncated, --resume auto      -> warning naming it, previous one used
#   f   --resume into another model / seed              -> one clear error, status 2, fast,
#                                                          the run's files untouched
#   g   --resume with another --lr                      -> a warning naming the checkpoint's
#                                                          value; the run goes on
source "$(dirname "${BASH_SOURCE[0]}")/ckpt_lib.sh"
ckpt_init ckpt_resume "$@"

ARGS=(--data "$DATA" --maxlen 100 --batch-size 32 --threads 1 --no-test --validation-split 0.9
      --epochs 2 --max-steps 120 --checkpoint-every 10 --keep 20 --progress lines)
FINAL=checkpoints/ckpt-0000000120.rnnd
train() {  # train NAME[.PART] NP HARD [extra args]: output in $T/NAME, log $T/NAME[.PART].log
  local name=$1 np=$2 hard=$3
  shift 3
  run "$name" "$np" "$hard" "${ARGS[@]}" --output-dir "$T/${name%%.*}" "$@"
}
# history.csv's epoch, loss, acc, val_loss, val_acc identical as written (the checkpoint holds
# the resumed epoch's exact loss sum, so its loss does not depend on where the run stopped or on
# how many ranks continued it).
same_history() {  # same_history NAME
  local diff
  diff=$(awk -F, 'FNR == 1 { next }
    NR == FNR { a[$1] = $0; n++; next }
    { m++; split(a[$1], r, ",")
      if (!($1 in a) || r[2] != $2 || r[3] != $3 || r[4] != $4 || r[5] != $5)
        print "epoch " $1 ": " a[$1] " vs " $0 }
    END { if (n != m) print n " rows vs " m + 0; if (n == 0) print "no rows" }' \
    "$T/a/history.csv" "$T/$1/history.csv")
  check $([[ -z $diff ]]; echo $?) "$1: history.csv rows equal a's (loss, acc, val_loss, val_acc)${diff:+: $diff}"
}

echo "== a: reference run, 2 ranks, 120 steps"
train a 2 120
expect_status a 0
[[ -s $T/a/$FINAL && -s $T/a/checkpoints/ckpt-0000000079.rnnd ]]
check $? "a: checkpoints at step 79 (epoch end) and 120 (--max-steps)"
grep -q '^1,' "$T/a/history.csv"
check $? "a: history.csv has epoch 1"

echo "== b1: rank 1 exits before global step 57, then --resume auto"
RNN_DIST_FAULT=exit:1:57 train b1 2 60
expect_status b1 nonzero
newest=$(ls "$T/b1/checkpoints" | grep '^ckpt-' | sort | tail -n1)
check $([[ $newest == ckpt-0000000050.rnnd ]]; echo $?) "b1: newest checkpoint $newest (want step 50)"
train b1.resume 2 120 --resume auto
expect_status b1.resume 0
expect_output b1.resume 'resumed from .*ckpt-0000000050.rnnd'
n=$(grep -c '^resumed from' "$T/b1.resume.log")
check $([[ $n == 1 ]]; echo $?) "b1.resume: one 'resumed from' line, not one per rank (found $n)"
same_checkpoint "b1: final checkpoint vs a (tolerance 0)" "$T/a/$FINAL" "$T/b1/$FINAL"
same_history b1

echo "== b2: kill -9 of one rank once a checkpoint exists, then --resume auto"
HARD=60 start b2 2 "${ARGS[@]}" --output-dir "$T/b2"
if wait_for "$T/b2/checkpoints/ckpt-0000000020.rnnd" 50; then
  pids=($(rank_pids b2))
  check $([[ ${#pids[@]} == 2 ]]; echo $?) "b2: found ${#pids[@]} rank processes (${pids[*]})"
  ((${#pids[@]})) && kill -9 "${pids[-1]}" && echo "  killed pid ${pids[-1]} with SIGKILL"
else
  check 1 "b2: no checkpoint at step 20 within 50 s"
fi
finish b2
expect_status b2 nonzero
train b2.resume 2 120 --resume auto
expect_status b2.resume 0
expect_output b2.resume 'resumed from .*ckpt-'
same_checkpoint "b2: final checkpoint vs a (tolerance 0)" "$T/a/$FINAL" "$T/b2/$FINAL"

echo "== c: SIGTERM to every rank after the first checkpoint (as srun does)"
HARD=60 start c 2 "${ARGS[@]}" --output-dir "$T/c"
if wait_for "$T/c/checkpoints/ckpt-0000000010.rnnd" 50; then
  pids=($(rank_pids c))
  check $([[ ${#pids[@]} == 2 ]]; echo $?) "c: found ${#pids[@]} rank processes (${pids[*]})"
  ((${#pids[@]})) && kill -TERM "${pids[@]}" && echo "  sent SIGTERM to ${pids[*]}"
fi
finish c
expect_status c 3
expect_output c 'stopping on request after global step [0-9]+ .*; checkpoint .*; continue with --resume auto'
step=$(grep -Eo 'stopping on request after global step [0-9]+' "$T/c.log" | grep -Eo '[0-9]+$')
stopped=$(printf 'ckpt-%010d.rnnd' "${step:-0}")
check $([[ -s $T/c/checkpoints/$stopped ]]; echo $?) "c: checkpoint $stopped at the stop"
train c.resume 2 120 --resume auto
expect_status c.resume 0
expect_output c.resume "resumed from .*$stopped"
same_checkpoint "c: final checkpoint vs a (tolerance 0)" "$T/a/$FINAL" "$T/c/$FINAL"
same_history c

echo "== c2: SIGTERM to mpirun (reported, not asserted: Open MPI forwards it, then SIGKILLs after"
echo "   odls_base_sigkill_timeout = 1 s, so the ranks may or may not finish their stop checkpoint)"
HARD=60 start c2 2 "${ARGS[@]}" --output-dir "$T/c2"
if wait_for "$T/c2/checkpoints/ckpt-0000000010.rnnd" 50; then kill -TERM "$(pgrep -P "$PID" mpirun)"; fi
finish c2
echo "  c2: checkpoints $(ls "$T/c2/checkpoints" | tr '\n' ' ')"
grep -E 'stopping on request' "$T/c2.log" | sed 's/^/  | /'
expect_status c2 nonzero

echo "== c3: SIGUSR1 to mpirun: forwarded to every rank, which stop as on SIGTERM"
HARD=60 start c3 2 "${ARGS[@]}" --output-dir "$T/c3"
if wait_for "$T/c3/checkpoints/ckpt-0000000010.rnnd" 50; then kill -USR1 "$(pgrep -P "$PID" mpirun)"; fi
finish c3
expect_status c3 3
expect_output c3 'stopping on request after global step [0-9]+ .*; checkpoint '
step=$(grep -Eo 'stopping on request after global step [0-9]+' "$T/c3.log" | grep -Eo '[0-9]+$')
stopped=$(printf '%s/c3/checkpoints/ckpt-%010d.rnnd' "$T" "${step:-0}")
"$COMPARE" "$stopped" "$stopped" >/dev/null
check $? "c3: the stop checkpoint $(basename "$stopped") reads back"

echo "== d: a 2-rank checkpoint (step 50) resumed on 3 ranks"
train d 3 120 --resume "$T/a/checkpoints/ckpt-0000000050.rnnd"
expect_status d 0
expect_output d 'written by 2 rank\(s\)'
# The micro-batches' gradients are summed exactly, so 3 ranks continue with the same bits as 2.
same_checkpoint "d: final checkpoint vs a (tolerance 0)" "$T/a/$FINAL" "$T/d/$FINAL"
same_history d

echo "== e: truncated newest checkpoint, --resume auto uses the previous one"
mkdir -p "$T/e/checkpoints"
for s in 60 70 79 80 90 100; do cp "$(printf '%s/a/checkpoints/ckpt-%010d.rnnd' "$T" $s)" "$T/e/checkpoints/"; done
truncate -s 1000 "$T/e/checkpoints/ckpt-0000000100.rnnd"
train e 2 120 --resume auto
expect_status e 0
expect_output e 'warning: skipping checkpoint .*ckpt-0000000100.rnnd is truncated'
expect_output e 'resumed from .*ckpt-0000000090.rnnd'
same_checkpoint "e: final checkpoint vs a (tolerance 0)" "$T/a/$FINAL" "$T/e/$FINAL"
# Epoch 1 ended before step 90: it comes from the checkpoint's history.
same_history e

echo "== f: --resume with another model, seed or optimizer setting is refused at once (usage, 2)"
mkdir -p "$T/f/checkpoints"
cp "$T/a/checkpoints/ckpt-0000000050.rnnd" "$T/f/checkpoints/"
echo "epoch,loss" >"$T/f/history.csv"
train f 2 60 --resume auto --checkpoint-dir "$T/f/checkpoints" --layers gru:32
expect_status f 2
expect_output f '^rnn_dist: error: cannot resume from .*ckpt-0000000050.rnnd: it was trained with --layers lstm:32 .*, this run has --layers gru:32'
expect_faster f 30
train f.seed 2 60 --resume "$T/f/checkpoints/ckpt-0000000050.rnnd" --seed 7
expect_status f.seed 2
expect_output f.seed 'cannot resume from .*ckpt-0000000050.rnnd: it was trained with --seed 1337, this run has --seed 7$'
[[ $(cat "$T/f/history.csv") == "epoch,loss" && ! -e $T/f/checkpoints/ckpt-0000000060.rnnd ]]
check $? "f: the refused resumes left the run's history.csv and checkpoints as they were"

echo "== g: --resume with another --lr continues, and rank 0 warns naming the checkpoint's value"
# A lower rate to fine-tune, a manual decay: as Keras and PyTorch let a restored optimizer's
# settings be set anew. The optimizer state (RMSprop's mean square) carries on.
train g 2 60 --resume "$T/a/checkpoints/ckpt-0000000050.rnnd" --lr 0.003
expect_status g 0
expect_output g '^warning: resuming from .*ckpt-0000000050.rnnd with --lr 0.003 \(the checkpoint was trained with --lr 0.001\): the optimizer state carries on'
[[ -s $T/g/$FINAL ]]
check $? "g: the resumed run reached step 120"
! cmp -s "$T/a/$FINAL" "$T/g/$FINAL"
check $? "g: its final checkpoint differs from a's (the rate changed)"

ckpt_done
