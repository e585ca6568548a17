#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs every test of gan-cl:
# the build, the kernels under oclgrind, and the Swift test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
swift build -c release
swift build -c release --build-tests

echo "== Kernels under oclgrind (small shapes) =="
scripts/oclgrind-check.sh .build/release/gan-cl

echo "== Swift tests =="
swift test -c release --skip-build
