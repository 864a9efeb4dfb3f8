#!/usr/bin/env bash
# Run the test suite under three CPU kernel settings in turn and report each.
#
# The numbers a test checks must not depend on which BLAS / ATen kernels the CPU picks
# (issue 18, item 5). These settings force the code paths of other CPUs on this one:
#   default  the kernels this CPU selects (AVX-512 where it has them)
#   avx2     MKL, ATen and OpenBLAS restricted to AVX2 (Haswell)
#   scalar   MKL in its conditional-numerical-reproducibility "compatible" mode, ATen's
#            default (non-vectorised) kernels, OpenBLAS Sandybridge kernels
#
# Usage: scripts/test_portable.sh [pytest arguments]   (default: tests -q -n 2)
#   PYTHON=.venv/bin/python scripts/test_portable.sh tests/test_intrinsic.py -p no:xdist
# Exit status: 0 when every setting passes, 1 otherwise.
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
if [ "$#" -eq 0 ]; then
    set -- tests -q -n 2
fi

SETTINGS=(
    "default|"
    "avx2|MKL_ENABLE_INSTRUCTIONS=AVX2 ATEN_CPU_CAPABILITY=avx2 OPENBLAS_CORETYPE=Haswell"
    "scalar|MKL_CBWR=COMPATIBLE ATEN_CPU_CAPABILITY=default OPENBLAS_CORETYPE=Sandybridge"
)

declare -a REPORT
status=0
for entry in "${SETTINGS[@]}"; do
    name=${entry%%|*}
    vars=${entry#*|}
    echo "=== kernels: $name ${vars:+($vars)}"
    log=$(mktemp)
    # shellcheck disable=SC2086  # vars is a list of NAME=VALUE words
    env $vars "$PYTHON" -m pytest "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed|error)|(passed|failed|error)[^=]* in [0-9.]+s' "$log" | tail -n 1)
    rm -f "$log"
    REPORT+=("$name: ${summary:-no summary} (exit $rc)")
    [ "$rc" -eq 0 ] || status=1
done

echo "=== summary (kernel setting: pytest result)"
printf '%s\n' "${REPORT[@]}"
exit $status
