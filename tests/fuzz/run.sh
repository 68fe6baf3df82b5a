#!/bin/sh
# run.sh — runs every fuzz target for SECONDS each (default 30) from the
# committed seed corpus (tests/fuzz/corpus/NAME, read-only) plus a working
# corpus in build-fuzz/corpus-NAME. Exit status non-zero on any finding.
# Called by `make fuzz-run FUZZ_SECONDS=N`; docs/robustness.md has the
# longer runs.
SECONDS_EACH=${1:-30}
status=0; passed=0; failed=0
for f in fuzz_idx fuzz_safetensors fuzz_json fuzz_npy fuzz_csv fuzz_ldac fuzz_text; do
    mkdir -p build-fuzz/corpus-$f
    log=build-fuzz/$f.log
    ASAN_OPTIONS=detect_leaks=1 build-fuzz/$f -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 -artifact_prefix=build-fuzz/$f- \
        build-fuzz/corpus-$f tests/fuzz/corpus/$f > "$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    if [ $rc -ne 0 ]; then
        echo "$f: FAILED (exit $rc) after ${execs:-?} executions; log $log:"
        grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -20
        status=1; failed=$((failed + 1))
    else
        echo "$f: ${execs:-?} executions in ${SECONDS_EACH} s, no finding"
        passed=$((passed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
exit $status
