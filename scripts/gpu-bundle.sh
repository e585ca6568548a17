#!/usr/bin/env bash
# Builds what scripts/gpu-check.sh runs on a machine without a Swift toolchain (the
# lent GPU machine): a release gan-cl with the Swift runtime linked in, stripped and
# gzipped, beside the OpenCL loader (libOpenCL.so.1), libpng and libturbojpeg, and the
# reference classifier, in
# gpu-bundle/ (ignored by git; carry it: `run` with carry ["gpu-bundle"]).
set -euo pipefail
cd "$(dirname "$0")/.."
# A build folder of its own: the static build does not replace the usual one.
swift build -c release --static-swift-stdlib --scratch-path .build-static
rm -rf gpu-bundle && mkdir -p gpu-bundle
cp .build-static/release/gan-cl gpu-bundle/gan-cl
strip gpu-bundle/gan-cl
gzip -9 gpu-bundle/gan-cl
loader=$(ldconfig -p | awk '/libOpenCL.so.1 / {print $NF; exit}')
[ -n "$loader" ] || { echo "gpu-bundle: no libOpenCL.so.1 here (apt-get install ocl-icd-libopencl1)" >&2; exit 1; }
cp -L "$loader" gpu-bundle/libOpenCL.so.1
# The picture libraries gan-cl links (a bare machine may lack them; glibc, zlib and the
# C++ runtime are everywhere).
for lib in libpng16.so.16 libturbojpeg.so.0; do
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l {print $NF; exit}')
  [ -n "$path" ] && cp -L "$path" "gpu-bundle/$lib"
done
ls -l gpu-bundle
