#!/bin/sh
# test_crash.sh — crash safety and exact resume through the CLI:
#  - a run killed with SIGKILL at pseudo-random moments (five times, scaled
#    to the machine's speed) and resumed each time ends with files
#    bit-identical to an uninterrupted run;
#  - SIGINT and SIGTERM finish the step, save, say how to resume, exit 128+sig;
#  - after every kill the checkpoint on disk loads.
set -u
ELBO=${ELBO:-build/elbo}
T=$(mktemp -d /tmp/elbo-crash-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh
ARGS="--train-limit 6000 --test-limit 300 --epochs 5 --threads 2 --seed 5 --quiet --checkpoint-every 7"

t0=$(date +%s%N)
expect_rc 0 "uninterrupted run" "$ELBO" train $ARGS --out "$T/ref"
T_REF=$(( ($(date +%s%N) - t0) / 1000000 ))   # milliseconds; scales the kill times
sed 's/,"seconds":.*//' "$T/ref/metrics.jsonl" > "$T/ref.m"

# kill -9 five times, each at a pseudo-random moment 3-18% of a full run's
# time after the (re)start (so that five kills fit in one run even when the
# machine runs faster than it did for the timed reference: a busy host's
# load changes); then let the last resumed run finish
kills=0; runs=0; seed=12345
rm -rf "$T/k"
"$ELBO" train $ARGS --out "$T/k" > /dev/null 2>&1 &
pid=$!
while [ $kills -lt 5 ]; do
    seed=$(( (seed * 1103515245 + 12345) % 2147483648 ))
    sleep "$(awk "BEGIN{print $T_REF / 1000.0 * (0.03 + ($seed % 1000) / 1000.0 * 0.15)}")"
    if kill -9 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null
        kills=$((kills + 1))
        if [ -e "$T/k/model.safetensors" ]; then
            check "checkpoint loads after kill $kills" sh -c "'$ELBO' eval --model '$T/k' --limit 10 --data data/mnist > /dev/null"
        fi
    else
        break   # it finished before the kill
    fi
    runs=$((runs + 1))
    if [ -e "$T/k/model.safetensors" ]; then
        "$ELBO" train --resume --out "$T/k" > /dev/null 2>"$T/resume.err" &  # the run record supplies the rest
    else
        "$ELBO" train $ARGS --out "$T/k" > /dev/null 2>&1 &
    fi
    pid=$!
done
wait "$pid"; rc=$?
check "final run exits 0 (got $rc)" [ "$rc" = 0 ]
[ "$rc" = 0 ] || sed 's/^/    resume: /' "$T/resume.err" >&2
echo "test_crash: killed $kills times"
check "killed at least 3 times ($kills)" [ "$kills" -ge 3 ]
check "model identical after kills" cmp -s "$T/ref/model.safetensors" "$T/k/model.safetensors"
check "optimizer identical after kills" cmp -s "$T/ref/optim.safetensors" "$T/k/optim.safetensors"
sed 's/,"seconds":.*//' "$T/k/metrics.jsonl" > "$T/k.m"
check "metrics identical after kills" cmp -s "$T/ref.m" "$T/k.m"
check "no temporaries left" [ -z "$(ls "$T/k" | grep '\.tmp\.')" ]

# SIGINT / SIGTERM: clean stop with a message, then an exact resume
for sig in INT TERM; do
    rm -rf "$T/s"
    "$ELBO" train $ARGS --out "$T/s" 2> "$T/sig.err" > /dev/null &
    pid=$!
    sleep "$(awk "BEGIN{print $T_REF / 1000.0 * 0.4}")"
    kill -$sig "$pid"
    wait "$pid"; rc=$?
    want=$([ $sig = INT ] && echo 130 || echo 143)
    check "SIG$sig exits $want (got $rc)" [ "$rc" = "$want" ]
    check "SIG$sig message says how to resume" grep -q -- "--resume" "$T/sig.err"
    check "SIG$sig saved a checkpoint" test -s "$T/s/model.safetensors"
    expect_rc 0 "resume after SIG$sig" "$ELBO" train --resume --out "$T/s"
    check "SIG$sig then resume: identical model" cmp -s "$T/ref/model.safetensors" "$T/s/model.safetensors"
done

# resume refuses a folder without a checkpoint, and a mismatched data set mid-epoch
expect_rc 1 "resume without checkpoint" "$ELBO" train --out "$T/empty" --resume --train-limit 100
finish test_crash
