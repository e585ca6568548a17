#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds gan-cl, and trains with the default settings
# on Fashion-MNIST (any `gan-cl train` flags may follow).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release
exec .build/release/gan-cl train "$@"
