#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs every test of gan-cl: the kernels under
# oclgrind, each parser under libFuzzer for 60 s, the Swift test suite under
# AddressSanitizer, and the Swift test suite in release mode.
#   scripts/test.sh           everything (what CI runs)
#   scripts/test.sh --quick   without the fuzzing and AddressSanitizer runs
set -euo pipefail
cd "$(dirname "$0")/.."
quick=false
[ "${1:-}" = "--quick" ] && quick=true

scripts/setup.sh
# A tuning cache written by the user's own `gan-cl tune` must not change what the tests see.
export GANCL_TUNING_CACHE="$(mktemp -d)/tunables.json"
swift build -c release
swift build -c release --build-tests

echo "== Kernels under oclgrind (small shapes) =="
scripts/oclgrind-check.sh .build/release/gan-cl

if ! $quick; then
  echo "== Parsers under libFuzzer =="
  scripts/fuzz.sh 60

  echo "== Swift tests under AddressSanitizer =="
  swift build -c release --sanitize=address --build-tests --scratch-path .build-asan
  # PoCL's LLVM keeps allocations to the end of the process, which LeakSanitizer would
  # report; ASan's quarantine of freed memory would look like growth to the memory test.
  # PoCL's LLVM installs its own alternate signal stack on a thread that compiles a
  # kernel; this toolchain's ASan then unmaps that stack as its own when the thread ends
  # and aborts ("unable to unmmap", fixed upstream in llvm/llvm-project#194868), so ASan
  # keeps out of alternate signal stacks.
  # The full conformance catalogue (the CPU reference's loops on shapes up to 1000³)
  # and the learning tests are the slow ones under ASan and check numbers, not memory:
  # the release run below runs them; every other test runs under ASan.
  ASAN_OPTIONS=detect_leaks=0:quarantine_size_mb=16:use_sigaltstack=0 \
    swift test -c release --sanitize=address --skip-build --scratch-path .build-asan \
    --skip "ConformanceTests|RingLearningTests"
fi

echo "== Swift tests =="
swift test -c release --skip-build
