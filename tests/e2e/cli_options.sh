#!/usr/bin/env bash
# cli_options.sh <rnn_dist> <mpirun> <prepared data file>
#
# Bad input ends a 2-rank job at once: every rank exits 2 before MPI starts and the first rank
# alone prints one line `rnn_dist: error: ...` naming the flag, value, file or key. mpirun passes
# the ranks' status on (Open MPI 4.1: the status of the first rank that failed), so the job's
# status is 2. Every case runs under `timeout 30` and must end within 15 s.
# Also: --help lists every option with its default (once under mpirun), the subcommands' --help,
# and --version.
BIN=$1
MPIRUN=$2
DATA=$3
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
need_data "$DATA"

# bad <name> <regex the error line must match> <rnn_dist args...>
bad() {
  local name=$1 want=$2
  shift 2
  local out="$SCRATCH/$name.out" err="$SCRATCH/$name.err" status start elapsed errors ok=1
  start=$(date +%s%N)
  timeout 30 "$MPIRUN" -np 2 "$BIN" "$@" >"$out" 2>"$err"
  status=$?
  elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
  errors=$(count_lines '^rnn_dist: error: ' "$out" "$err")
  if ((status == 124)); then
    echo "FAIL $name: still running after 30 s"; ok=0
  elif ((status != 2)); then
    echo "FAIL $name: exit status $status, expected 2"; ok=0
  fi
  if ((elapsed >= 15000)); then echo "FAIL $name: took ${elapsed} ms (limit 15 s)"; ok=0; fi
  if [[ $errors != 1 ]]; then echo "FAIL $name: $errors 'rnn_dist: error:' lines, expected 1"; ok=0; fi
  if ! grep -Eq -- "^rnn_dist: error: .*$want" "$err"; then
    echo "FAIL $name: stderr lacks /rnn_dist: error: .*$want/"; ok=0
  fi
  if ((ok)); then
    pass "$name: status 2 in ${elapsed} ms: $(grep -m1 '^rnn_dist: error: ' "$err")"
  else
    failures=$((failures + 1))
    show "$err" "stderr of $name"
  fi
}

D=(--data "$DATA" --output-dir "$SCRATCH/out")
# (Option prefixes are not guessed: --epoch is not --epochs, and --check matches nothing.)
bad unknown_option        "unrecognised option '--epocs'"            "${D[@]}" --epocs 3
bad no_prefix_guessing    "unrecognised option '--check'"            "${D[@]}" --check 1
bad no_abbreviation       "unrecognised option '--epoch'"            "${D[@]}" --epoch 3
bad unknown_subcommand    "unknown subcommand 'trian'"              trian "${D[@]}"
bad layers_type           "transformer"                              "${D[@]}" --layers transformer:3
bad layers_units_zero     "lstm:0"                                   "${D[@]}" --layers lstm:0
bad layers_no_units       "'lstm'"                                   "${D[@]}" --layers lstm
bad embed_zero            "embed"                                    "${D[@]}" --embed 0
bad num_words_small       "num-words"                                "${D[@]}" --num-words 3
bad maxlen_zero           "--maxlen 0 must be >= 1"                  "${D[@]}" --maxlen 0
bad validation_split_one  "--validation-split 1.* must be in \[0, 1\)" "${D[@]}" --validation-split 1.0
bad validation_split_neg  "--validation-split -0\.1.* must be in \[0, 1\)" "${D[@]}" --validation-split -0.1
bad batch_size_zero       "--batch-size 0 must be >= 1"              "${D[@]}" --batch-size 0
bad epochs_zero           "--epochs 0 must be >= 1"                  "${D[@]}" --epochs 0
bad optimizer_unknown     "adagrad"                                  "${D[@]}" --optimizer adagrad
bad lr_zero               "lr"                                       "${D[@]}" --lr 0
bad padding_middle        "--padding 'middle' must be pre or post"   "${D[@]}" --padding middle
bad data_missing          "/nonexistent.*launch/get_imdb.sh"         --data /nonexistent --output-dir "$SCRATCH/out"
bad output_dir_under_file "--output-dir /etc/hostname/out: cannot create" --data "$DATA" --output-dir /etc/hostname/out
bad checkpoint_dir_is_file "--checkpoint-dir /etc/hostname: cannot create" --data "$DATA" --output-dir "$SCRATCH/out" --checkpoint-dir /etc/hostname
bad config_missing        "--config /nonexistent.ini: cannot open"   "${D[@]}" --config /nonexistent.ini
printf 'epochs = 1\nbatch-size = 64\nepohcs = 2\n' >"$SCRATCH/typo.ini"
bad config_unknown_key    "unrecognised option 'epohcs'"             "${D[@]}" --config "$SCRATCH/typo.ini"
printf 'epochs = two\n' >"$SCRATCH/badvalue.ini"
bad config_bad_value      "argument \\('two'\\) for option 'epochs' is invalid" "${D[@]}" --config "$SCRATCH/badvalue.ini"
bad resume_missing        "--resume /nonexistent.ckpt: no such readable checkpoint" "${D[@]}" --resume /nonexistent.ckpt
bad keep_zero             "--keep 0 must be >= 1"                    "${D[@]}" --keep 0
bad best_metric_unknown   "--best-metric 'foo' must be val_acc, val_loss or none" "${D[@]}" --best-metric foo
bad progress_unknown      "--progress 'fancy' must be auto, bar or lines" "${D[@]}" --progress fancy
bad epochs_not_a_number   "argument \\('ten'\\) for option '--epochs' is invalid" "${D[@]}" --epochs ten

# ---- --help, subcommand --help, --version ---------------------------------------------------
help_out="$SCRATCH/help.out"
"$BIN" --help >"$help_out" 2>"$SCRATCH/help.err"
check "--help exits 0" test $? -eq 0
check "--help prints the usage" grep -q '^usage: rnn_dist \[train\] \[options\]' "$help_out"
# Every training option with its default, as Boost prints it: `--name arg (=default)`.
missing=""
for pair in layers=lstm:32 embed=32 num-words=10000 maxlen=500 padding=pre truncating=pre \
            validation-split=0.2 epochs=10 batch-size=128 optimizer=rmsprop lr=0.001 rho=0.9 \
            momentum=0 epsilon=1e-07 clip-norm=0 seed=1337 max-steps=0 eval-batch-size=256 \
            output-dir=runs/latest threads=0 collective-timeout=300 progress=auto \
            checkpoint-every=0 keep=3 best-metric=val_acc; do
  name=${pair%%=*} default=${pair#*=}
  grep -Eq -- "--$name arg \(=$default\)" "$help_out" || missing+=" --$name(=$default)"
done
check "--help shows every valued option's default${missing:+ (missing:$missing)}" test -z "$missing"
missing=""
for name in help version config quiet verbose data mask-padding nesterov no-test skip-nonfinite \
            check-replicas profile checkpoint-dir resume; do
  grep -Eq -- "--$name( |$)" "$help_out" || missing+=" --$name"
done
check "--help lists the switches and the options without a fixed default${missing:+ (missing:$missing)}" \
    test -z "$missing"
# An option shown without "(=...)" must say its default (or that it is off) in its description.
undocumented=$(grep -E '^  -.*--[a-z-]+ arg  ' "$help_out" | grep -Ev '\(=|default|\(0: |\(if any\)' || true)
check "--help: options without (=default) explain their default${undocumented:+: $undocumented}" \
    test -z "$undocumented"

timeout 30 "$MPIRUN" -np 2 "$BIN" --help >"$SCRATCH/help2.out" 2>&1
status=$?
check "--help under mpirun -np 2 exits 0" test $status -eq 0
check "--help under mpirun -np 2 prints the usage once" \
    test "$(count_lines '^usage: rnn_dist' "$SCRATCH/help2.out")" = 1

"$BIN" train --help >"$SCRATCH/train_help.out" 2>&1
check "train --help exits 0" test $? -eq 0
check "train --help lists --epochs with its default" grep -Eq -- '--epochs arg \(=10\)' "$SCRATCH/train_help.out"
"$BIN" prepare --help >"$SCRATCH/prepare_help.out" 2>&1
check "prepare --help exits 0" test $? -eq 0
check "prepare --help lists --data and --out" \
    bash -c "grep -Eq -- '--data arg' '$SCRATCH/prepare_help.out' && grep -Eq -- '--out arg' '$SCRATCH/prepare_help.out'"
check "prepare --help does not list training options" \
    bash -c "! grep -Eq -- '--epochs' '$SCRATCH/prepare_help.out'"
for sub in evaluate predict summary; do
  "$BIN" $sub --help >"$SCRATCH/$sub.out" 2>&1
  check "$sub --help exits 0 with the usage" \
      bash -c "test $? -eq 0 && grep -q '^usage: rnn_dist' '$SCRATCH/$sub.out'"
done

version=$("$BIN" --version 2>&1)
status=$?
check "--version exits 0 and prints 'rnn_dist X.Y.Z' (got '$version')" \
    bash -c "test $status -eq 0 && [[ '$version' =~ ^rnn_dist\ [0-9]+\.[0-9]+\.[0-9]+$ ]]"
version2=$(timeout 30 "$MPIRUN" -np 2 "$BIN" --version 2>&1)
check "--version under mpirun -np 2 prints one line (got '$version2')" test "$version2" = "$version"

finish
