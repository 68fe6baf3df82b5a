#!/bin/sh
# bench/scaling.sh — data-parallel scaling of the reference VAE (784-400-20,
# batch 128, full MNIST, --no-test) on this machine, in one run:
#  1. the group sum's cost (cli/par.c: reduce-scatter + allgather) beside
#     MPI_Allreduce, 1 to 652,824 floats, on 2 ranks over shared memory and,
#     as root, over TCP between two network namespaces (a veth pair);
#  2. seconds per epoch (training only; the median of EPOCHS epochs) for
#     1 rank x 1 thread, 1 rank x 2 threads, 2 ranks x 1 thread over shared
#     memory and 2 ranks over the veth;
#  3. the cost model of docs/scaling.md fitted to (1) and checked on (2).
# Writes bench/scaling.jsonl (one object per measurement) and prints the
# report that bench/scaling_report.py makes of it (also in RESULTS.md).
#   sh bench/scaling.sh [EPOCHS]      (default 3)
set -eu
EPOCHS=${1:-3}
OUT=bench/scaling.jsonl
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
make -s -j2 build/elbo
make -s -j2 MPI=1 build-mpi/elbo
mpicc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Icli -DELBO_MPI \
    -o build-mpi/bench_allreduce bench/bench_allreduce.c cli/par.c
T=$(mktemp -d /tmp/elbo-scale-XXXXXX)
N0=elbo-s0-$$ N1=elbo-s1-$$
cleanup() { ip netns del "$N0" 2> /dev/null || true; ip netns del "$N1" 2> /dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
: > "$OUT"
note() { echo "{\"date\":\"$(date -u +%F)\",\"cpu\":\"$cpu\",\"cores\":$(nproc),$1}" >> "$OUT"; }

# two namespaces joined by a veth (root only): "hosts" 10.231.1.1 and .2
NETNS=0
if ip netns add "$N0" 2> /dev/null; then
    ip netns add "$N1"
    ip link add "sv0-$$" type veth peer name "sv1-$$"
    ip link set "sv0-$$" netns "$N0"; ip link set "sv1-$$" netns "$N1"
    ip -n "$N0" addr add 10.231.1.1/24 dev "sv0-$$"; ip -n "$N1" addr add 10.231.1.2/24 dev "sv1-$$"
    for n in "$N0" "$N1"; do ip -n "$n" link set lo up; done
    ip -n "$N0" link set "sv0-$$" up; ip -n "$N1" link set "sv1-$$" up
    printf '#!/bin/sh\nh=$1; shift\ncase $h in 10.231.1.1) ns=%s ;; *) ns=%s ;; esac\nexec ip netns exec "$ns" sh -c "$*"\n' \
        "$N0" "$N1" > "$T/rsh"
    chmod +x "$T/rsh"
    printf '10.231.1.1 slots=1\n10.231.1.2 slots=1\n' > "$T/hosts"
    NETNS=1
fi
here=$(pwd)
two_hosts() {
    ip netns exec "$N0" mpirun --hostfile "$T/hosts" -np 2 --mca plm_rsh_agent "$T/rsh" \
        --mca btl tcp,self --mca btl_tcp_if_include 10.231.1.0/24 --mca oob_tcp_if_include 10.231.1.0/24 "$@"
}
SHM="mpirun --bind-to none -np 2"

echo "== the group sum, shared memory"
$SHM build-mpi/bench_allreduce | tee "$T/ar_shm"
while read -r l; do note "\"what\":\"allreduce\",\"transport\":\"shm\",$(echo "$l" | sed "s/^{//; s/}$//")" ; done < "$T/ar_shm"
if [ $NETNS = 1 ]; then
    echo "== the group sum, TCP over a veth between two namespaces"
    two_hosts "$here/build-mpi/bench_allreduce" | tee "$T/ar_tcp"
    while read -r l; do note "\"what\":\"allreduce\",\"transport\":\"tcp-veth\",$(echo "$l" | sed "s/^{//; s/}$//")"; done < "$T/ar_tcp"
fi

# the median of the epochs' training seconds of run folder $1
med() { grep -o '"seconds":[0-9.]*' "$1/metrics.jsonl" | cut -d: -f2 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run() { # name ranks threads batch command...
    name=$1 ranks=$2 threads=$3 batch=$4; shift 4
    "$@" train --epochs "$EPOCHS" --no-test --quiet --threads "$threads" --batch "$batch" \
        --data "$here/data/mnist" --out "$T/$name"
    s=$(med "$T/$name")
    echo "$name: $s s/epoch ($ranks rank(s) x $threads thread(s), batch $batch)"
    note "\"what\":\"epoch\",\"config\":\"$name\",\"ranks\":$ranks,\"threads\":$threads,\"batch\":$batch,\"epochs\":$EPOCHS,\"seconds\":$s"
}
echo "== seconds per epoch (reference VAE, median of $EPOCHS)"
run 1x1 1 1 128 build/elbo
# a step of half the rows: what each of 2 ranks computes (the cost model's input)
run 1x1-b64 1 1 64 build/elbo
run 1x2 1 2 128 build/elbo
run 2x1-shm 2 1 128 $SHM build-mpi/elbo
[ $NETNS = 1 ] && run 2x1-tcp 2 1 128 two_hosts "$here/build-mpi/elbo"
/usr/bin/python3 bench/scaling_report.py "$OUT"
