#!/usr/bin/env bash
# Run HERE (on a machine with Debian's registry) before a device run: unpacks the Debian
# packages the build needs (the GPU machine has torch, nvcc, CMake and ninja but no package
# registry) into .gpu-deps/, an ignored folder that the device tool carries (carry: [".gpu-deps"]).
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(libyaml-cpp-dev libyaml-cpp0.7 libeigen3-dev libsqlite3-dev libsqlite3-0 zlib1g-dev
  libcli11-dev nlohmann-json3-dev libgtest-dev libgmock-dev dataset-fashion-mnist)
mkdir -p .gpu-deps/debs
if [ ! -f .gpu-deps/.done ]; then
  (cd .gpu-deps/debs && apt-get download "${PKGS[@]}" >/dev/null)
  for d in .gpu-deps/debs/*.deb; do dpkg -x "$d" .gpu-deps/root; done
  rm -rf .gpu-deps/debs .gpu-deps/root/usr/share/doc
  # What links is the shared libraries; only GoogleTest is static. Less to carry (64 MiB cap).
  rm -f .gpu-deps/root/usr/lib/x86_64-linux-gnu/{libsqlite3,libyaml-cpp,libz}.a
  touch .gpu-deps/.done
fi
du -sh .gpu-deps
