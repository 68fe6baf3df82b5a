# bench/speed_lib.sh — the round-alternating timing harness of the *_speed.sh
# benchmarks (sourced, POSIX sh). speed_setup checks that $VENV has torch and
# sets $cpu and $torch_v (printing the machine line with "$1"). The caller
# defines
#   peer_epoch_s T   run the peer at T threads; print its s/epoch and loss
#   elbo_epoch_s T   the same for elbo
# (each prints "SECONDS LOSS": the median over the epochs after the first),
# then calls speed_rounds "THREADS..." ROUNDS, which alternates the two
# ROUNDS times per thread count, prints every round and sets $report to the
# Markdown rows "| threads | peer s | elbo s | **ratio x** | rounds |".
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"; exit} if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
# seconds per epoch from a metrics.jsonl, the median after the first epoch
metrics_epoch_s() { sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p' "$1" | tail -n +2 | median; }
speed_setup() {
    cpu=$(grep -m1 "model name" /proc/cpuinfo | sed 's/.*: //')
    torch_v=$("$VENV/bin/python" -c 'import torch; print(torch.__version__)' 2>/dev/null) || {
        echo "no torch in $VENV: python3 -m venv $VENV && $VENV/bin/pip install torch numpy" >&2
        exit 1
    }
    echo "machine: $cpu, $(nproc) cores; PyTorch $torch_v; $1"
}
# the peer's s/epoch and final loss from its "epoch=E train_loss=L train_s=S" lines
peer_log_s() {
    echo "$(sed -n 's/.*train_s=\([0-9.]*\).*/\1/p' "$1" | tail -n +2 | median) $(sed -n 's/.*epoch='"$2"' train_loss=\([0-9.]*\).*/\1/p' "$1")"
}
# elbo's s/epoch and final loss from its metrics.jsonl
elbo_log_s() {
    echo "$(metrics_epoch_s "$1") $(tail -1 "$1" | sed -n 's/.*"train_loss":\([0-9.]*\).*/\1/p')"
}
speed_rounds() {
    _sr_dir=$(mktemp -d /tmp/elbo-speed-XXXXXX)
    _sr_rounds=$2
    report=""
    for t in $1; do
        : > "$_sr_dir/ratios"
        r=1
        while [ "$r" -le "$_sr_rounds" ]; do
            out=$(peer_epoch_s "$t")
            ps=${out%% *} pl=${out#* }
            out=$(elbo_epoch_s "$t")
            es=${out%% *} el=${out#* }
            ratio=$(awk "BEGIN{printf \"%.2f\", $ps / $es}")
            echo "threads $t round $r: peer $ps s/epoch (loss $pl), elbo $es s/epoch (loss $el): ${ratio}x"
            echo "$ratio $ps $es" >> "$_sr_dir/ratios"
            r=$((r + 1))
        done
        med=$(cut -d' ' -f1 "$_sr_dir/ratios" | median)
        mp=$(cut -d' ' -f2 "$_sr_dir/ratios" | median)
        me=$(cut -d' ' -f3 "$_sr_dir/ratios" | median)
        all=$(cut -d' ' -f1 "$_sr_dir/ratios" | tr '\n' ' ')
        echo "threads $t: median peer $mp s, elbo $me s per epoch: elbo ${med}x faster (rounds: $all)"
        report="$report
| $t | $mp | $me | **${med}x** | $all|"
    done
    rm -rf "$_sr_dir"
}
