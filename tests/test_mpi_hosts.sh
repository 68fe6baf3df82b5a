#!/bin/sh
# test_mpi_hosts.sh — a data-parallel run across two "hosts": two network
# namespaces of this machine joined by a veth pair (iproute2), with Open
# MPI's TCP transport on the veth addresses only (docs/scaling.md):
#  - mpirun starts in namespace 0 and launches rank 1 in namespace 1
#    through an rsh agent that is `ip netns exec` (no ssh needed);
#  - the run gives the same bits as 1 rank x 2 threads;
#  - the gradient crossed the veth: its byte counters carry at least the
#    reduce-scatter + allgather's 2 (p-1)/p x 4 x 652,824 bytes per step.
# Needs root (CAP_NET_ADMIN), iproute2 and an MPI build; skipped otherwise.
set -u
ELBO=${ELBO:-build/elbo}
MPIELBO=${ELBO_MPI:-$(dirname "$ELBO")-mpi/elbo}
case $(dirname "$ELBO") in *-mpi) MPIELBO=$ELBO ;; esac
T=$(mktemp -d /tmp/elbo-hosts-XXXXXX)
N0=elbo-h0-$$ N1=elbo-h1-$$
cleanup() { ip netns del "$N0" 2> /dev/null; ip netns del "$N1" 2> /dev/null; rm -rf "$T"; }
trap cleanup EXIT
. tests/lib.sh
skip() { echo "test_mpi_hosts: skipped: $1"; echo "test_mpi_hosts: 0 passed, 0 failed, 1 skipped"; exit 0; }
[ -x "$MPIELBO" ] && command -v mpirun > /dev/null || skip "no MPI build at $MPIELBO or no mpirun"
command -v ip > /dev/null || skip "no ip (iproute2)"
ip netns add "$N0" 2> /dev/null || skip "cannot make network namespaces here (needs root)"
ip netns add "$N1"
ip link add "eh0-$$" type veth peer name "eh1-$$" || skip "cannot make a veth pair"
ip link set "eh0-$$" netns "$N0" && ip link set "eh1-$$" netns "$N1"
ip -n "$N0" addr add 10.231.0.1/24 dev "eh0-$$" && ip -n "$N1" addr add 10.231.0.2/24 dev "eh1-$$"
for n in "$N0" "$N1"; do ip -n "$n" link set lo up; done
ip -n "$N0" link set "eh0-$$" up && ip -n "$N1" link set "eh1-$$" up

# mpirun's "remote shell": host address -> its namespace
cat > "$T/rsh" << EOF
#!/bin/sh
host=\$1; shift
case \$host in 10.231.0.1) ns=$N0 ;; 10.231.0.2) ns=$N1 ;; *) echo "no host \$host" >&2; exit 1 ;; esac
exec ip netns exec "\$ns" sh -c "\$*"
EOF
chmod +x "$T/rsh"
printf '10.231.0.1 slots=1\n10.231.0.2 slots=1\n' > "$T/hosts"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0
here=$(pwd)
tx() { ip netns exec "$N0" cat "/sys/class/net/eh0-$$/statistics/tx_bytes"; }

ARGS="--train-limit 3000 --test-limit 500 --epochs 2 --seed 3 --threads 1 --quiet"
b0=$(tx)
expect_rc 0 "2 hosts (namespaces) over TCP on the veth" timeout 300 ip netns exec "$N0" mpirun \
    --hostfile "$T/hosts" -np 2 --mca plm_rsh_agent "$T/rsh" --mca btl tcp,self \
    --mca btl_tcp_if_include 10.231.0.0/24 --mca oob_tcp_if_include 10.231.0.0/24 \
    "$here/$MPIELBO" train $ARGS --data "$here/data/mnist" --out "$T/two"
b1=$(tx)
steps=$(( 2 * ((3000 + 127) / 128) ))
want=$(( steps * 652824 * 4 ))   # 2 (p-1)/p x 4 bytes x n_params per step, p = 2
check "rank 1 ran in the other namespace: the gradient crossed the veth ($((b1 - b0)) >= $want bytes)" \
    test $((b1 - b0)) -ge "$want"
expect_rc 0 "the same run on 1 rank x 2 threads" "$ELBO" train $(echo "$ARGS" | sed 's/--threads 1/--threads 2/') \
    --out "$T/one"
data_of() { hl=$(od -An -t u8 -N 8 "$1" | tr -d ' '); tail -c +$((hl + 9)) "$1"; }
data_of "$T/two/model.safetensors" > "$T/a.bin" 2> /dev/null
data_of "$T/one/model.safetensors" > "$T/b.bin"
check "two hosts give the same bits as two threads" cmp -s "$T/a.bin" "$T/b.bin"
finish test_mpi_hosts
