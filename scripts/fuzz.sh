#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ and runs each for SECONDS (default 60) from its
# seed corpus in Fuzz/Corpus. Fails on any crash; libFuzzer writes the input that
# crashed as crash-* in the working directory (make it a regression test).
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
# Let libFuzzer, not the Swift runtime's backtracer, handle a crash, so it saves the input.
export SWIFT_BACKTRACE=enable=no
swift build --package-path Fuzz -c release --sanitize=fuzzer -Xswiftc -parse-as-library
bin=$(swift build --package-path Fuzz -c release --sanitize=fuzzer -Xswiftc -parse-as-library --show-bin-path)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for target in IDX Safetensors NPY Config Picture Table; do
  corpus="$work/$target"
  mkdir -p "$corpus"
  cp Fuzz/Corpus/$(echo "$target" | tr '[:upper:]' '[:lower:]')/* "$corpus/"
  echo "== Fuzz$target for ${seconds}s =="
  status=0
  "$bin/Fuzz$target" -max_total_time="$seconds" -print_final_stats=1 -max_len=4096 "$corpus" >"$work/$target.log" 2>&1 || status=$?
  grep -E "^stat::(number_of_executed_units|new_units_added)|Done [0-9]+ runs" "$work/$target.log" || true
  if [ $status -ne 0 ]; then
    echo "Fuzz$target failed (exit $status):"
    grep -E -A12 "==[0-9]+==|deadly signal|Fatal error|SUMMARY" "$work/$target.log" | head -n 60
    exit 1
  fi
done
echo "fuzzing: no crashes"
