#!/bin/sh
# test_mpi.sh — data-parallel training over MPI (make MPI=1; docs/scaling.md):
#  - `elbo --version` tells the MPI build from the plain one;
#  - 2 ranks x 1 thread give the same bits as 1 rank x 2 threads (the VAE,
#    with free bits, LDA), and a 2-rank run is bit-identical to its rerun
#    (the BNN too, whose KL makes it correct but not rank/thread-identical);
#  - 5 epochs of the reference VAE on 2 ranks stay within 0.3 nats of the
#    1-rank x 1-thread run at every epoch;
#  - only rank 0 writes; --resume works with another number of ranks;
#  - faults: a rank killed with SIGKILL mid-epoch ends the job within 60 s
#    with a non-zero exit and a message, the checkpoint loads and 1 rank
#    resumes it; a rank that hangs (SIGSTOP) ends the job after
#    --mpi-timeout; SIGTERM to one rank stops both at the same step, saved.
# Skipped (with a reason) when there is no MPI build or no mpirun.
set -u
ELBO=${ELBO:-build/elbo}
MPIELBO=${ELBO_MPI:-$(dirname "$ELBO")-mpi/elbo}
case $(dirname "$ELBO") in *-mpi) MPIELBO=$ELBO ;; esac # make MPI=1 test: one build for both
T=$(mktemp -d /tmp/elbo-mpi-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh
if [ ! -x "$MPIELBO" ] || ! command -v mpirun > /dev/null; then
    echo "test_mpi: skipped: no MPI build at $MPIELBO or no mpirun (make MPI=1; openmpi-bin)"
    echo "test_mpi: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
# CI runs as root; sanitizer builds: Open MPI's own allocations are not ours
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0
MPIRUN="mpirun --oversubscribe --bind-to none -np"

# the tensor bytes of a safetensors file (the header's metadata names the
# thread and rank counts, which differ between runs that must agree)
data_of() {
    hl=$(od -An -t u8 -N 8 "$1" | tr -d ' ')
    tail -c +$((hl + 9)) "$1"
}
same_tensors() { data_of "$1" > "$T/a.bin"; data_of "$2" > "$T/b.bin"; cmp -s "$T/a.bin" "$T/b.bin"; }
# every epoch's train and test loss of two metrics files within $3 nats
curves_close() {
    awk -v tol="$3" -F'[:,]' '
        BEGIN { worst = 0 }
        FNR == 1 { f++ }
        { for (i = 1; i < NF; i++) if ($i == "\"train_loss\"" || $i == "\"test_loss\"") v[f, FNR, $i] = $(i + 1); n[f] = FNR }
        END {
            if (n[1] != n[2] || n[1] == 0) { print "epochs differ: " n[1] " vs " n[2]; exit 1 }
            for (e = 1; e <= n[1]; e++) for (k in v) {
                split(k, p, SUBSEP); if (p[1] != 1 || p[2] != e) continue
                d = v[1, e, p[3]] - v[2, e, p[3]]; if (d < 0) d = -d
                if (d > worst) worst = d
                if (d > tol) { print "epoch " e " " p[3] " differs by " d; exit 1 }
            }
            print "largest difference " worst " nats"
        }' "$1" "$2"
}

check "--version names MPI" sh -c "'$MPIELBO' --version | grep -q 'MPI: Open MPI'"
check "the plain build says it has no MPI" sh -c "'$ELBO' --version | grep -q 'no MPI'"

SMALL="--train-limit 3000 --test-limit 500 --epochs 2 --seed 3 --quiet"
# the VAE: ranks and threads interchangeable, bit for bit
expect_rc 0 "VAE on 2 ranks" $MPIRUN 2 "$MPIELBO" train $SMALL --threads 1 --out "$T/r2"
expect_rc 0 "VAE on 1 rank x 2 threads" "$ELBO" train $SMALL --threads 2 --out "$T/t2"
check "2 ranks x 1 thread == 1 rank x 2 threads (weights)" same_tensors "$T/r2/model.safetensors" "$T/t2/model.safetensors"
check "... and Adam's state" same_tensors "$T/r2/optim.safetensors" "$T/t2/optim.safetensors"
check "rank 0 alone wrote the outputs" test -s "$T/r2/metrics.jsonl" -a -s "$T/r2/samples.png"
check "metrics: one line per epoch, once" sh -c "[ \$(wc -l < '$T/r2/metrics.jsonl') = 2 ]"
check "the run record names the ranks" sh -c "'$ELBO' info --model '$T/r2' | grep -q 'ranks.*2'"
expect_rc 0 "VAE on 2 ranks, rerun" $MPIRUN 2 "$MPIELBO" train $SMALL --threads 1 --out "$T/r2b"
check "a 2-rank run is bit-identical to its rerun" same_tensors "$T/r2/model.safetensors" "$T/r2b/model.safetensors"
expect_rc 0 "free bits on 2 ranks" $MPIRUN 2 "$MPIELBO" train $SMALL --free-bits 0.5 --threads 1 --out "$T/fb2"
expect_rc 0 "free bits on 2 threads" "$ELBO" train $SMALL --free-bits 0.5 --threads 2 --out "$T/fbt"
check "free bits: the per-dimension KL is summed over the ranks" same_tensors "$T/fb2/model.safetensors" "$T/fbt/model.safetensors"
expect_rc 0 "a batch smaller than the ranks" $MPIRUN 2 "$MPIELBO" train --train-limit 129 --no-test --epochs 1 --threads 1 --quiet --out "$T/tiny2"
expect_rc 0 "... alone" "$ELBO" train --train-limit 129 --no-test --epochs 1 --threads 2 --quiet --out "$T/tinyt"
check "... the same bits (a rank without rows adds zeros)" same_tensors "$T/tiny2/model.safetensors" "$T/tinyt/model.safetensors"

# the BNN: correct on 2 ranks (the KL added once), reproducible
B="--kind bnn --train-limit 2000 --test-limit 500 --epochs 1 --seed 2 --quiet"
expect_rc 0 "BNN on 2 ranks" $MPIRUN 2 "$MPIELBO" train $B --threads 1 --out "$T/b2"
expect_rc 0 "BNN on 2 ranks, rerun" $MPIRUN 2 "$MPIELBO" train $B --threads 1 --out "$T/b2b"
expect_rc 0 "BNN alone" "$ELBO" train $B --threads 2 --out "$T/bt"
check "BNN: a 2-rank run is bit-identical to its rerun" same_tensors "$T/b2/model.safetensors" "$T/b2b/model.safetensors"
check "BNN: 2 ranks within 1e-3 nats of 1 rank (the KL counted once)" curves_close "$T/b2/metrics.jsonl" "$T/bt/metrics.jsonl" 0.001

# M2: mixed batches, per-term row counts summed over the ranks, bit for bit
M="m2 train --labels 100 --train-limit 2000 --test-limit 300 --hidden 64 --latent 8 --epochs 1 --seed 2 --quiet"
expect_rc 0 "M2 on 2 ranks" $MPIRUN 2 "$MPIELBO" $M --threads 1 --out "$T/m2r"
expect_rc 0 "M2 on 1 rank x 2 threads" "$ELBO" $M --threads 2 --out "$T/m2t"
check "M2: 2 ranks x 1 thread == 1 rank x 2 threads" same_tensors "$T/m2r/model.safetensors" "$T/m2t/model.safetensors"
check "M2: the same metrics (term means over their own rows)" sh -c \
    "sed 's/\"seconds\":[0-9.]*//' '$T/m2r/metrics.jsonl' > '$T/m2r.m' && sed 's/\"seconds\":[0-9.]*//' '$T/m2t/metrics.jsonl' > '$T/m2t.m' && cmp -s '$T/m2r.m' '$T/m2t.m'"

# LDA: the minibatch's sufficient statistics summed over the ranks
mkdir -p "$T/txt"
for i in 1 2 3 4 5 6 7 8; do
    { echo "The navy builds ships and sailors train at sea while farmers sell corn."
      echo "Taxes fund schools; teachers and students read books in the library $i."
      echo "The army marches; soldiers and generals plan the war and the peace $i."; } > "$T/txt/d$i.txt"
done
expect_rc 0 "lda prepare" "$ELBO" lda prepare --input "$T/txt" --out "$T/c" --chunk 12 --min-df 1 --test-fraction 0.25
L="--kind lda --data $T/c/train.ldac --test $T/c/test.ldac --topics 3 --epochs 3 --batch 3 --quiet"
expect_rc 0 "LDA on 2 ranks" $MPIRUN 2 "$MPIELBO" train $L --threads 1 --out "$T/l2"
expect_rc 0 "LDA on 1 rank x 2 threads" "$ELBO" train $L --threads 2 --out "$T/lt"
check "LDA: 2 ranks x 1 thread == 1 rank x 2 threads" same_tensors "$T/l2/model.safetensors" "$T/lt/model.safetensors"

# the done criterion: 5 epochs of the reference VAE, 2 ranks against 1 rank
REF="--epochs 5 --seed 1 --quiet"
expect_rc 0 "reference VAE, 5 epochs, 2 ranks" $MPIRUN 2 "$MPIELBO" train $REF --threads 1 --out "$T/ref2"
expect_rc 0 "reference VAE, 5 epochs, 1 rank x 1 thread" "$ELBO" train $REF --threads 1 --out "$T/ref1"
check "every epoch within 0.3 nats of the 1-rank run" curves_close "$T/ref2/metrics.jsonl" "$T/ref1/metrics.jsonl" 0.3

# --resume with another number of ranks: 2 ranks for epoch 1, 1 rank on
expect_rc 0 "2 ranks, epoch 1" $MPIRUN 2 "$MPIELBO" train $SMALL --epochs 1 --threads 1 --out "$T/rs"
expect_rc 0 "resumed alone for epoch 2" "$ELBO" train --resume --epochs 2 --quiet --out "$T/rs"
check "... with a note that it is no longer bit-identical" err_has "trained on 2 ranks, now 1"
check "... and the run finished" sh -c "[ \$(wc -l < '$T/rs/metrics.jsonl') = 2 ]"
expect_rc 0 "1 rank's run resumed on 2 ranks" $MPIRUN 2 "$MPIELBO" train --resume --epochs 3 --threads 1 --quiet --out "$T/rs"
check "... continues it" sh -c "[ \$(wc -l < '$T/rs/metrics.jsonl') = 3 ]"

# the pid of rank R of the job started from out folder DIR
rank_pid() {
    for p in $(pgrep -f "elbo train .*--out $2"); do
        tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1" && { echo "$p"; return; }
    done
}
# starts a long 2-rank run into $T/$1 in the background (pid in $job) and
# waits until it has saved a checkpoint mid-epoch
start_long() {
    rm -rf "$T/$1"
    $MPIRUN 2 "$MPIELBO" train --epochs 50 --threads 1 --seed 4 --no-test --checkpoint-every 40 \
        --mpi-timeout "$2" --out "$T/$1" > "$T/$1.out" 2> "$T/$1.err" &
    job=$!
    i=0
    while [ ! -s "$T/$1/optim.safetensors" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
}
# seconds until pid $1 ends (at most $2), its exit status in $rc
wait_ended() {
    s=$(date +%s)
    while kill -0 "$1" 2> /dev/null && [ $(( $(date +%s) - s )) -lt "$2" ]; do sleep 0.2; done
    if kill -0 "$1" 2> /dev/null; then kill -9 "$1"; took=999; rc=999; return; fi
    wait "$1"; rc=$?
    took=$(( $(date +%s) - s ))
}

start_long kill 60
victim=$(rank_pid 1 "$T/kill")
check "a rank to kill" test -n "$victim"
kill -9 "$victim" 2> /dev/null
wait_ended "$job" 60
echo "test_mpi: SIGKILL of rank 1: the job ended after ${took} s, exit $rc"
check "SIGKILL of rank 1: the job ends within 60 s (took ${took} s)" test "$took" -le 60
check "... with a non-zero exit ($rc)" test "$rc" != 0 -a "$rc" != 999
check "... and says so" grep -qi "signal 9\|killed" "$T/kill.err"
pkill -9 -f "elbo train .*--out $T/kill" 2> /dev/null
expect_rc 0 "... the checkpoint loads" "$ELBO" info --model "$T/kill"
expect_rc 0 "... 1 rank resumes it" "$ELBO" train --resume --epochs 1 --quiet --out "$T/kill"
check "... and finishes its epoch" sh -c "[ \$(wc -l < '$T/kill/metrics.jsonl') = 1 ]"

start_long hang 3
victim=$(rank_pid 1 "$T/hang")
kill -STOP "$victim" 2> /dev/null
wait_ended "$job" 60
kill -9 "$victim" 2> /dev/null
pkill -9 -f "elbo train .*--out $T/hang" 2> /dev/null
echo "test_mpi: rank 1 stopped (SIGSTOP), --mpi-timeout 3: the job ended after ${took} s, exit $rc"
check "a hung rank: the job ends after --mpi-timeout (took ${took} s)" test "$took" -le 30
check "... with a non-zero exit ($rc)" test "$rc" != 0 -a "$rc" != 999
check "... naming the wait" grep -q "no answer from the other ranks" "$T/hang.err"
expect_rc 0 "... the checkpoint loads" "$ELBO" info --model "$T/hang"

start_long term 60
victim=$(rank_pid 1 "$T/term")
kill -TERM "$victim" 2> /dev/null
wait_ended "$job" 60
check "SIGTERM to rank 1: both ranks stop (exit $rc)" test "$rc" = 143
check "... rank 0 saved and says how to resume" grep -q "resume with: elbo train --resume" "$T/term.err"
expect_rc 0 "... which continues the run" "$ELBO" train --resume --epochs 1 --quiet --out "$T/term"
finish test_mpi
