#!/usr/bin/env bash
# Long fuzzing runs (minutes to hours per target), starting from the committed
# seed corpus, with a summary of executions and crashes per target.
#
#   fuzz/long-run.sh [--seconds N] [--minimize] [TARGET...]
#
#   --seconds N   run each target N seconds (default 3600)
#   --minimize    afterwards, merge what the run found into fuzz/corpus/TARGET
#                 and minimize it (`cargo fuzz cmin`): commit the result so
#                 every CI run starts from it
#   TARGET...     the targets to run (default: all, `cargo fuzz list`)
#
# New inputs go to fuzz/target/long-run/corpus/TARGET (not committed); the
# committed corpus is only read unless --minimize. Crashing inputs land in
# fuzz/artifacts/TARGET/ (`cargo fuzz run TARGET fuzz/artifacts/TARGET/crash-...`
# reproduces one). A crash stops that target's run (libFuzzer's default) and
# the script goes on with the next; it exits non-zero if any target crashed.
# The summary (also in fuzz/target/long-run/summary.txt) is what
# docs/fuzzing.md reports.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

seconds=3600
minimize=false
targets=()
while (($#)); do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --minimize) minimize=true; shift ;;
        -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) targets+=("$1"); shift ;;
    esac
done

export RUSTC_BOOTSTRAP=1
cargo fuzz build --release
((${#targets[@]})) || mapfile -t targets < <(cargo fuzz list)

work="target/long-run"
mkdir -p "$work/logs"
summary="$work/summary.txt"
printf '%-16s %8s %14s %10s %8s %7s\n' target seconds executions 'exec/s' corpus crashes | tee "$summary"
crashed=0
for target in "${targets[@]}"; do
    mkdir -p "$work/corpus/$target" "corpus/$target"
    log="$work/logs/$target.log"
    status=0
    cargo fuzz run --release "$target" "$work/corpus/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || status=$?
    runs=$(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -n 1)
    runs=${runs:-$(grep -Eo '^#[0-9]+' "$log" | tail -n 1 | tr -d '#')}
    took=$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | grep -Eo '[0-9]+ second' | grep -Eo '[0-9]+' || true)
    took=${took:-$seconds}
    crashes=0
    if ((status != 0)); then
        crashes=1
        crashed=1
        echo "-- $target crashed; the input and the report:" >&2
        grep -E 'Test unit written to|^==[0-9]+==ERROR|panicked at' "$log" | head -n 5 >&2 || true
    fi
    corpus=$(find "$work/corpus/$target" "corpus/$target" -type f | wc -l)
    printf '%-16s %8s %14s %10s %8s %7s\n' "$target" "$took" "${runs:-0}" \
        "$(( ${runs:-0} / (took > 0 ? took : 1) ))" "$corpus" "$crashes" | tee -a "$summary"
done

if $minimize; then
    for target in "${targets[@]}"; do
        cp -n "$work/corpus/$target"/* "corpus/$target"/ 2>/dev/null || true
        cargo fuzz cmin --release "$target" "corpus/$target" >"$work/logs/$target.cmin.log" 2>&1
        echo "-- corpus/$target: $(find "corpus/$target" -type f | wc -l) files, $(du -sk "corpus/$target" | cut -f1) KB"
    done
fi
exit "$crashed"
