#!/bin/sh
# test_rundir.sh — run folders and the run record through the CLI:
#  - resume needs only --resume --out; options given with it must agree with
#    the record (refused naming both values), except --epochs (extends) and
#    --threads (allowed, with a note); a finished run says so and changes
#    nothing; an extended run ends bit-identical to one trained that long;
#  - a folder is locked while training (a second run fails at once naming
#    the process); training over an existing run is refused unless --resume
#    or --force, which says what it replaces;
#  - elbo info shows kind, config and run record; help and option errors.
. tests/lib.sh
ELBO=${ELBO:-build/elbo}
T=$(mktemp -d /tmp/elbo-rundir-XXXXXX)
trap 'rm -rf "$T"' EXIT
ARGS="--train-limit 1000 --test-limit 200 --threads 1 --seed 3 --quiet --lr 0.002 --hidden 64 --latent 5"

expect_rc 0 "2 epochs in one go" "$ELBO" train $ARGS --epochs 2 --out "$T/ref"
expect_rc 0 "1 epoch" "$ELBO" train $ARGS --epochs 1 --out "$T/r"
expect_rc 0 "info" "$ELBO" info --model "$T/r"
check "info names the kind" grep -q "kind        vae" "$T/out.txt"
check "info shows the recorded lr" grep -q "lr  *0.002" "$T/out.txt"
check "info shows the config" grep -q "hidden  *64" "$T/out.txt"
expect_rc 0 "info --json" "$ELBO" info --model "$T/r/model.safetensors" --json
check "info --json is one object with the run" python3 -c "import json,sys; d=json.load(open('$T/out.txt')); sys.exit(not (d['kind']=='vae' and d['run']['lr']=='0.002' and d['run']['latent']=='5'))"

# conflicts are refused and change nothing
cp "$T/r/model.safetensors" "$T/before"
expect_rc 2 "conflicting --lr refused" "$ELBO" train --resume --out "$T/r" --epochs 2 --lr 0.001
check "the refusal names both values" sh -c "grep -q -- '--lr 0.001' '$T/err.txt' && grep -q -- '--lr 0.002' '$T/err.txt'"
expect_rc 2 "conflicting --hidden refused" "$ELBO" train --resume --out "$T/r" --epochs 2 --hidden 32
expect_rc 0 "a finished run says so" "$ELBO" train --resume --out "$T/r"
check "finished: the message" grep -q "is finished" "$T/out.txt"
check "finished: nothing changed" cmp -s "$T/before" "$T/r/model.safetensors"
# --epochs extends; the recorded options do the rest; equal to one run
expect_rc 0 "extend with --epochs alone" "$ELBO" train --resume --out "$T/r" --epochs 2
check "extended run bit-identical to the 2-epoch run" cmp -s "$T/ref/model.safetensors" "$T/r/model.safetensors"
check "metrics of the extended run: 2 lines" [ "$(wc -l < "$T/r/metrics.jsonl")" = 2 ]
expect_rc 0 "--threads may change" "$ELBO" train --resume --out "$T/r" --epochs 3 --threads 2
check "--threads change is noted" err_has "no longer bit-identical"

# a save interrupted after optim.safetensors became optim.prev.safetensors
cp -r "$T/ref" "$T/half" && mv "$T/half/optim.safetensors" "$T/half/optim.prev.safetensors"
expect_rc 0 "info finds the state in optim.prev" "$ELBO" info --model "$T/half"
check "info: position from optim.prev" grep -q "epoch 2 done" "$T/out.txt"
expect_rc 0 "resume --out alone after an interrupted save" "$ELBO" train --resume --out "$T/half" --epochs 3

# an existing run is not clobbered
expect_rc 1 "training over a run is refused" "$ELBO" train $ARGS --epochs 1 --out "$T/r"
check "the refusal suggests --resume and --force" sh -c "grep -q -- '--resume' '$T/err.txt' && grep -q -- '--force' '$T/err.txt'"
check "the refused run is intact" [ "$(wc -l < "$T/r/metrics.jsonl")" = 3 ]
expect_rc 0 "--force replaces it" "$ELBO" train $ARGS --epochs 1 --out "$T/r" --force --quiet
expect_rc 0 "--force says what it replaces" "$ELBO" train $ARGS --epochs 1 --out "$T/r" --force
check "--force message" err_has "replacing model.safetensors"
check "--force leaves one run" [ "$(wc -l < "$T/r/metrics.jsonl")" = 1 ]

# the lock: a second run on a busy folder fails at once, naming the holder
"$ELBO" train --train-limit 20000 --test-limit 100 --epochs 50 --threads 1 --quiet --out "$T/busy" 2>"$T/busy.err" &
pid=$!
for i in 1 2 3 4 5 6 7 8 9 10; do [ -s "$T/busy/.lock" ] && break; sleep 0.2; done
expect_rc 1 "a second run on a locked folder fails" "$ELBO" train --resume --out "$T/busy"
check "the lock message names the process" err_has "process $pid"
expect_rc 1 "a forced run on a locked folder fails too" "$ELBO" train --force --out "$T/busy" --train-limit 10
kill -TERM "$pid"; wait "$pid"
check "the stop message resumes with --resume --out alone" grep -q "resume with: elbo train --resume --out $T/busy\$" "$T/busy.err"
expect_rc 0 "which works" "$ELBO" train --resume --out "$T/busy" --epochs 1

# help and option errors
expect_rc 0 "elbo help train" "$ELBO" help train
check "help train is train's help" grep -q "usage: elbo train" "$T/out.txt"
expect_rc 2 "elbo help bogus" "$ELBO" help bogus
expect_rc 2 "another command's option" "$ELBO" sample --model x --data y
check "named by its flag" err_has "'--data' is not an option of 'elbo sample'"
expect_rc 2 "ambiguous prefix" "$ELBO" train --e 3
check "called ambiguous" err_has "ambiguous"
expect_rc 2 "--resume with --force" "$ELBO" train --resume --force --out "$T/r"
finish test_rundir
