#!/usr/bin/env bash
# cli_options.sh <rnn_dist> <mpirun> <prepared data file>
#
# Bad input ends a 2-rank job at once: every rank exits 2 before MPI starts and the first rank
# alone prints one line `rnn_dist: error: ...` naming the flag, value, file or key. mpirun passes
# the ranks' status on (Open MPI 4.1: the status of the first rank that failed), so the job's
# status is 2. Every case runs under `timeout 60` and must end within 30 s.
# Every numeric option of train, summary and evaluate is tried below, at and far above its
# range, and with NaN and infinities for doubles (on one process: the checks are the same on
# every rank, before MPI): one line naming the option and its allowed range, status 2. Text
# given to the options (empty values, bytes that are not UTF-8, --config files with NUL bytes,
# invalid UTF-8, a 10 MB line, a folder) gets one line naming the option, file and line.
# Also: --help lists every option with its default (once under mpirun), the subcommands' --help,
# and --version.
BIN=$1
MPIRUN=$2
DATA=$3
source "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
need_data "$DATA"

# bad <name> <regex the error line must match> <rnn_dist args...>: under mpirun -np 2.
bad() {
  local name=$1 want=$2
  shift 2
  expect_fail "$name" 2 "error: .*$want" "$MPIRUN" -np 2 "$BIN" "$@"
}
# bad1: the same on one process (the checks run before MPI, alike on every rank; mpirun adds
# about 2 s per case, too much for the range table).
bad1() {
  local name=$1 want=$2
  shift 2
  expect_fail "$name" 2 "error: .*$want" "$BIN" "$@"
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
bad maxlen_zero           "--maxlen 0 must be in \[1, 100000\]"       "${D[@]}" --maxlen 0
bad validation_split_one  "--validation-split 1.* must be in \[0, 1\)" "${D[@]}" --validation-split 1.0
bad validation_split_neg  "--validation-split -0\.1.* must be in \[0, 1\)" "${D[@]}" --validation-split -0.1
bad batch_size_zero       "--batch-size 0 must be in \[1, 1048576\]"  "${D[@]}" --batch-size 0
bad epochs_zero           "--epochs 0 must be in \[1, 1000000\]"      "${D[@]}" --epochs 0
bad optimizer_unknown     "adagrad"                                  "${D[@]}" --optimizer adagrad
bad lr_zero               "lr"                                       "${D[@]}" --lr 0
bad padding_middle        "--padding 'middle' must be pre or post"   "${D[@]}" --padding middle
bad data_missing          "/nonexistent.*launch/get_imdb.sh"         --data /nonexistent --output-dir "$SCRATCH/out"
bad output_dir_under_file "--output-dir /etc/hostname/out: cannot create" --data "$DATA" --output-dir /etc/hostname/out
bad checkpoint_dir_is_file "--checkpoint-dir /etc/hostname: cannot create" --data "$DATA" --output-dir "$SCRATCH/out" --checkpoint-dir /etc/hostname
bad config_missing        "--config /nonexistent.ini: no such file"  "${D[@]}" --config /nonexistent.ini
printf 'epochs = 1\nbatch-size = 64\nepohcs = 2\n' >"$SCRATCH/typo.ini"
bad config_unknown_key    "typo.ini line 3: unrecognised option 'epohcs'" "${D[@]}" --config "$SCRATCH/typo.ini"
printf 'epochs = two\n' >"$SCRATCH/badvalue.ini"
bad config_bad_value      "argument \\('two'\\) for option 'epochs' is invalid" "${D[@]}" --config "$SCRATCH/badvalue.ini"
bad resume_missing        "--resume /nonexistent.ckpt: no such file" "${D[@]}" --resume /nonexistent.ckpt
bad keep_zero             "--keep 0 must be in \[1, 1000\]"           "${D[@]}" --keep 0
bad best_metric_unknown   "--best-metric 'foo' must be val_acc, val_loss or none" "${D[@]}" --best-metric foo
bad progress_unknown      "--progress 'fancy' must be auto, bar or lines" "${D[@]}" --progress fancy
bad epochs_not_a_number   "argument \\('ten'\\) for option '--epochs' is invalid: must be in \[1, 1000000\]" "${D[@]}" --epochs ten
bad num_words_huge        "--num-words 2000000000 must be in \[4, 1000000\] \(ids 0-3 are reserved; .*vocabulary" "${D[@]}" --num-words 2000000000
bad model_too_big         "--num-words 1000000, --embed 100 and --layers lstm:32 make [0-9]+ parameters: at most 67108864 \(.*2 GiB\)" "${D[@]}" --num-words 1000000 --embed 100

# ---- every numeric option at both ends: below, above, NaN and infinities -------------------
# <option> <values...>: each value must give one line "--option VALUE must be in RANGE" (or, for
# a value that does not parse, Boost's "argument ... for option '--option' is invalid: must be
# in RANGE"), status 2. Ints: below the range and far above (99999999999 overflows an int);
# doubles: also nan, inf, -inf and 1e300.
ranges=(
  "epochs -1 0 1000001 99999999999"
  "batch-size -1 0 1048577 99999999999"
  "micro-batch -1 0 1048577"
  "eval-batch-size 0 65537"
  "maxlen -5 0 100001 99999999999"
  "embed -1 0 65537"
  "num-words -1 3 1000001 2000000000"
  "lr -1 0 10.5 nan inf -inf 1e300 1e999"
  "rho -0.1 1 nan inf"
  "momentum -0.5 1 nan inf"
  "epsilon 0 -1 2 nan inf"
  "clip-norm -1 1e7 nan inf"
  "max-steps -1 1000000000001"
  "threads -1 1025"
  "collective-timeout -1 604801 nan inf 1e300"
  "keep 0 -3 1001"
  "checkpoint-every -1 1000000000001"
  "early-stopping-patience -1 1000001"
  "reduce-lr-patience -1 1000001"
  "reduce-lr-factor 0 1 -0.5 nan inf"
  "min-lr -1 11 nan inf"
  "min-delta -1 1e7 nan inf"
  "warmup-steps -1 1000000000001"
  "validation-split -0.1 1 nan inf"
)
for row in "${ranges[@]}"; do
  read -r opt values <<<"$row"
  for v in $values; do
    bad1 "range_${opt}_$v" "(--$opt \\S+ must be in [[(]|for option '--$opt' is invalid: must be in [[(])" \
        "${D[@]}" "--$opt=$v"
  done
done
# The other subcommands check their numeric options the same way.
bad1 summary_embed_huge   "--embed 70000 must be in \[1, 65536\]" summary --embed 70000
bad1 summary_num_words    "--num-words 2000000000 must be in \[4, 1000000\]" summary --num-words 2000000000
bad1 summary_model_size   "make [0-9]+ parameters: at most 67108864" summary --layers lstm:8192
bad1 evaluate_batch_zero  "--eval-batch-size 0 must be in \[1, 65536\]" evaluate --checkpoint x --eval-batch-size 0
bad1 evaluate_timeout_nan "--collective-timeout nan must be in \[0, 604800\]" evaluate --checkpoint x --collective-timeout nan
bad1 seed_negative        "--seed '-1' must be an integer in \[0, 18446744073709551615\]" "${D[@]}" --seed -1
bad1 seed_too_big         "--seed '18446744073709551616' must be an integer" "${D[@]}" --seed 18446744073709551616
bad1 min_lr_above_lr      "--min-lr 0.01 must be at most --lr 0.001" "${D[@]}" --min-lr 0.01
bad1 micro_above_batch    "--micro-batch 64 must be in \[1, --batch-size 32\]" "${D[@]}" --batch-size 32 --micro-batch 64

# ---- text inputs of the options: empty values, invalid bytes, NUL bytes, long lines ----------
bad1 data_empty           "--data is empty"                          --data "" --output-dir "$SCRATCH/out"
bad1 output_dir_empty     "--output-dir is empty"                    --data "$DATA" --output-dir ""
bad1 resume_empty         "--resume is empty"                        "${D[@]}" --resume ""
# Bytes that are not UTF-8 (and control characters) are shown as \xNN in the one error line.
bad1 layers_invalid_utf8  "unknown layer type '\\\\xff\\\\x01'" "${D[@]}" --layers $'\xff\x01:3'
printf 'epochs = 1\n\xff\xfe = 3\n' >"$SCRATCH/invalid.ini"
bad1 config_invalid_utf8  "--config .*invalid.ini line 2: invalid UTF-8 at column 1" "${D[@]}" --config "$SCRATCH/invalid.ini"
printf 'epochs = 1\nlr = 0.1\0\n' >"$SCRATCH/nul.ini"
bad1 config_nul           "--config .*nul.ini line 2: NUL byte at column 9" "${D[@]}" --config "$SCRATCH/nul.ini"
{ printf 'epochs = 1\nlayers = '; head -c 10000000 /dev/zero | tr '\0' a; printf '\n'; } >"$SCRATCH/long.ini"
bad1 config_long_line     "--config .*long.ini line 2: 10000009 bytes long \(at most 65536\)" "${D[@]}" --config "$SCRATCH/long.ini"
bad1 config_folder        "--config $SCRATCH: is a folder, not a file" "${D[@]}" --config "$SCRATCH"
: >"$SCRATCH/empty.ini"
"$BIN" summary --config "$SCRATCH/empty.ini" >"$SCRATCH/empty_config.out" 2>&1
check "an empty --config file sets nothing (summary exits 0)" test $? -eq 0
printf 'layers = %s\n' "$(head -c 60000 /dev/zero | tr '\0' a)" >"$SCRATCH/long_value.ini"
bad1 long_value_shortened "layer 'a+\[\.\.\. [0-9]+ bytes \.\.\.\]a+' is not of the form" summary --config "$SCRATCH/long_value.ini"
len=$(grep -a '^rnn_dist: error:' "$SCRATCH/long_value_shortened.err" | wc -c)
check "a 60,000-byte value is shortened in the error line ($len bytes, at most 1100)" test "$len" -le 1100

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
