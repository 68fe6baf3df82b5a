#!/bin/sh
# run.sh — runs every test (C test binaries, then the shell tests) and prints
# the total as "N passed, N failed" on the last line. Exit status 0 only if
# nothing failed. Called by `make test`; ELBO_BUILD picks the build folder.
B=${ELBO_BUILD:-build}
export ELBO="$B/elbo"
total_p=0; total_f=0; total_s=0; broken=0
for t in "$B"/tests/test_* tests/cli_smoke.sh tests/test_rundir.sh tests/test_bnn_cli.sh tests/test_m2_cli.sh tests/test_flows_cli.sh tests/test_fit.sh tests/test_lda.sh tests/test_posteriordb.sh tests/test_user_data.sh tests/toolbox_smoke.sh tests/test_crash.sh tests/test_corrupt.sh tests/test_install.sh tests/test_torch.sh tests/test_mpi.sh tests/test_mpi_hosts.sh; do
    case "$t" in *.sh) cmd="sh $t" ;; *) cmd="$t" ;; esac
    start=$(date +%s)
    out=$($cmd 2>&1); rc=$?
    line=$(printf '%s\n' "$out" | grep -E '^[a-z0-9_]+: [0-9]+ passed, [0-9]+ failed' | tail -n 1)
    secs=$(( $(date +%s) - start ))
    if [ -z "$line" ]; then
        echo "$t: no summary line (exit $rc)"; printf '%s\n' "$out" | tail -n 20
        broken=$((broken + 1)); continue
    fi
    p=$(echo "$line" | sed 's/.*: \([0-9]*\) passed.*/\1/')
    f=$(echo "$line" | sed 's/.* \([0-9]*\) failed.*/\1/')
    s=$(echo "$line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p')
    total_p=$((total_p + p)); total_f=$((total_f + f)); total_s=$((total_s + ${s:-0}))
    if [ "$rc" != 0 ] || [ "$f" != 0 ]; then
        printf '%s\n' "$out" | grep -v -E '^[a-z0-9_]+: [0-9]+ passed' | tail -n 30
        [ "$f" = 0 ] && broken=$((broken + 1))
    fi
    echo "$line  (${secs}s)"
done
total_f=$((total_f + broken))
echo "$total_p passed, $total_f failed, $total_s skipped"
[ "$total_f" = 0 ]
