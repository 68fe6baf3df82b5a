# lib.sh — helpers for the shell tests: check NAME CMD... counts a pass when
# CMD succeeds; expect_rc RC NAME CMD... when CMD exits with RC. finish NAME
# prints "NAME: N passed, N failed" and sets the exit status.
PASS=0
FAIL=0
# (variables are prefixed _lib_ so that callers' own names are not clobbered)
check() {
    _lib_name=$1; shift
    if "$@"; then PASS=$((PASS + 1)); else FAIL=$((FAIL + 1)); echo "FAIL: $_lib_name" >&2; fi
}
expect_rc() {
    _lib_want=$1; _lib_name=$2; shift 2
    "$@" >"$T/out.txt" 2>"$T/err.txt"
    _lib_got=$?
    if [ "$_lib_got" = "$_lib_want" ]; then PASS=$((PASS + 1)); else
        FAIL=$((FAIL + 1)); echo "FAIL: $_lib_name: exit $_lib_got, expected $_lib_want" >&2
        sed 's/^/    /' "$T/err.txt" >&2
    fi
}
# files differ
differ() { ! cmp -s "$1" "$2"; }
# stderr of the last expect_rc contains a string
err_has() { grep -q -- "$1" "$T/err.txt"; }
png_width() { od -An -tu1 -j16 -N4 "$1" | awk '{print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4}'; }
is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; }
finish() { echo "$1: $PASS passed, $FAIL failed"; [ "$FAIL" = 0 ]; }
