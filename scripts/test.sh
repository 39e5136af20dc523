#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what is needed and runs Fulcrum's whole test suite:
#   1. the warnings-as-errors build: unit and tools suites, then (as root) the integration
#      suite in the namespace lab;
#   2. the AddressSanitizer + UndefinedBehaviorSanitizer build of the unit suite;
#   3. the fuzz suite: the libFuzzer targets (clang, with ASan and UBSan), each for
#      FULCRUM_FUZZ_SECONDS (default 45) from its seed corpus.
# Ends with one line "N passed, N failed" summed over all suites; exits non-zero on any failure.
# Usage (as root on Debian 12): bash scripts/test.sh
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh || exit 1

jobs=$(nproc)
status=0

setup() {  # setup BUILD_DIR [meson options...]
  local dir=$1
  shift
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

echo "== build (werror)"
setup build-ci -Dwerror=true -Dbuildtype=debugoptimized || exit 1
ninja -C build-ci -j "$jobs" || exit 1

echo "== unit + tools suites"
meson test -C build-ci --no-rebuild --print-errorlogs --suite unit --suite tools \
  --logbase unit || status=1

if [ "$(id -u)" -eq 0 ]; then
  echo "== integration suite (namespace lab; root)"
  meson test -C build-ci --no-rebuild --print-errorlogs --suite integration \
    --logbase integration || status=1
else
  echo "== integration suite skipped: needs root (network namespaces)"
fi

echo "== sanitizer build (address,undefined) of the unit suite"
setup build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
  -Dbenchmarks=false -Ddpdk=disabled -Dbuildtype=debug || exit 1
ninja -C build-asan -j "$jobs" || exit 1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --no-rebuild --print-errorlogs --suite unit --logbase asan || status=1

echo "== fuzz suite (clang, libFuzzer + address,undefined)"
fuzz_seconds=${FULCRUM_FUZZ_SECONDS:-45}
CC=clang CXX=clang++ setup build-fuzz -Dfuzz=enabled -Dfuzz_seconds="$fuzz_seconds" \
  -Db_sanitize=address,undefined -Db_lundef=false -Dbenchmarks=false -Ddpdk=disabled \
  -Dbuildtype=debugoptimized || exit 1
# Only the fuzzers: the rest of the tree is built and tested above.
ninja -C build-fuzz -j "$jobs" tests/fuzz_pipeline tests/fuzz_vrrp tests/fuzz_config \
  tests/fuzz_api tests/fuzz_bird || exit 1
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-fuzz --no-rebuild --print-errorlogs --suite fuzz --logbase fuzz || status=1

logs=(build-ci:unit build-asan:asan build-fuzz:fuzz)
[ "$(id -u)" -ne 0 ] || logs+=(build-ci:integration)
/usr/bin/python3 scripts/summarize-tests.py "${logs[@]}" || status=1
exit $status
