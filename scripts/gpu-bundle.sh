#!/usr/bin/env bash
# Builds what scripts/gpu-check.sh runs on a machine without a Swift toolchain (the
# lent GPU machine): a release gan-cl with the Swift runtime linked in, stripped and
# compressed with xz (15 MB; gzip's 24 MB left too little room under the device tool's
# limit), beside the OpenCL loader (libOpenCL.so.1), libpng and libturbojpeg, CLBlast
# (libclblast.so.1, for `bench gemm`'s comparison column, which a bare machine lacks), and
# Fashion-MNIST's four files (the timed dcgan training and its evaluation), in gpu-bundle/
# (ignored by git; carry it: `run` with carry ["gpu-bundle"]; about 56 MB with the tree,
# under the device tool's 64 MiB).
set -euo pipefail
cd "$(dirname "$0")/.."
# What the bundle copies from this machine, looked for before the minutes of building.
data=/usr/share/datasets/fashion-mnist
[ -d "$data" ] || { echo "gpu-bundle: no $data here (apt-get install dataset-fashion-mnist)" >&2; exit 1; }
# A build folder of its own: the static build does not replace the usual one.
swift build -c release --static-swift-stdlib --scratch-path .build-static
rm -rf gpu-bundle && mkdir -p gpu-bundle
cp .build-static/release/gan-cl gpu-bundle/gan-cl
strip gpu-bundle/gan-cl
xz -9 -T0 gpu-bundle/gan-cl
# awk reads all of ldconfig's list (no early exit): under pipefail a closed pipe fails the script.
loader=$(ldconfig -p | awk '/libOpenCL.so.1 / && !found {print $NF; found = 1}')
[ -n "$loader" ] || { echo "gpu-bundle: no libOpenCL.so.1 here (apt-get install ocl-icd-libopencl1)" >&2; exit 1; }
cp -L "$loader" gpu-bundle/libOpenCL.so.1
# The picture libraries gan-cl links and CLBlast, which it opens at run time (a bare
# machine may lack them; glibc, zlib and the C++ runtime are everywhere).
for lib in libpng16.so.16 libturbojpeg.so.0 libclblast.so.1; do
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !found {print $NF; found = 1}')
  [ -n "$path" ] && cp -L "$path" "gpu-bundle/$lib"
done
mkdir -p gpu-bundle/fashion-mnist
cp "$data"/*-ubyte.gz gpu-bundle/fashion-mnist/
ls -l gpu-bundle gpu-bundle/fashion-mnist
