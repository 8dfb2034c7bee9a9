#!/usr/bin/env bash
# Luminal's one build entry point. Needs only the .NET 10 SDK, cmake, a C/C++ compiler and cargo; anything else
# it needs (clang-14, valgrind, GoogleTest) it installs with apt when missing.
#
#   ./build.sh            build libluminal, the C, C++ and Rust examples, and run the examples
#   ./build.sh test       build everything and run every test (managed NUnit, native CTest, cargo test)
#   ./build.sh lib        build only build/lib/libluminal.so
#   ./build.sh bench      run the benchmarks against the peers, then bench/hooks.sh (what observing costs; set
#                         BENCH_BASELINE_LIB to an older libluminal.so.0 for the before column) (slow; not in test)
#   ./build.sh install [PREFIX]  install headers, library, CMake package and pkg-config file (default /usr/local)
#   ./build.sh dist       write build/dist/luminal-VERSION-RID.tar.gz (a relocatable install tree, stripped)
#   ./build.sh soak       the long fuzz pass (fuzz_api, 4 seeds, 10^6+ calls) and the soak program (RSS, fds and
#                         threads over LUMSOAK_SECONDS, default 300; fails on unbounded growth): slow, not part of test
#
# --rid RID (any mode but bench and soak) builds for another architecture: on linux-x64, `--rid linux-arm64`
# cross-compiles libluminal (NativeAOT, linked by clang-14 against the aarch64 cross libc) into
# build/linux-arm64/lib, cross-builds the C tests and examples (cmake/toolchains/aarch64-linux-gnu.cmake) into
# build/linux-arm64/cmake, and `test` runs them under qemu-user (the NUnit and Rust tests belong to the host run).
# `test` on linux-x64 also runs the arm64 CTest label `arm64-ci` under qemu (LUMINAL_SKIP_ARM64=1 leaves it out).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
BUILD=$ROOT/build
CONFIG=${CONFIG:-Release}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

case "$(uname -s)" in
  Linux) RID=linux-x64; LIBNAME=libluminal.so ;;
  Darwin) RID=osx-$(uname -m | sed 's/x86_64/x64/'); LIBNAME=libluminal.dylib ;;
  *) echo "use build.ps1 on Windows" >&2; exit 1 ;;
esac
[ "$(uname -m)" = aarch64 ] && RID=linux-arm64
HOST_RID=$RID

# Arguments: the mode, its PREFIX for install, and --rid RID anywhere.
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rid) [ $# -ge 2 ] || { echo "--rid needs a value (linux-x64, linux-arm64)" >&2; exit 2; }; RID=$2; shift 2 ;;
    --rid=*) RID=${1#--rid=}; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
set -- "${ARGS[@]+"${ARGS[@]}"}"

# Where a build for $RID goes: the host's in build/lib and build/cmake (as always), another's in build/$RID/.
rid_dirs() {
  if [ "$RID" = "$HOST_RID" ]; then
    OUT=$BUILD; CROSS=""
  else
    OUT=$BUILD/$RID
    case "$HOST_RID>$RID" in
      "linux-x64>linux-arm64") CROSS=aarch64-linux-gnu ;;
      *) echo "cannot build for $RID on $HOST_RID (cross builds: linux-x64 -> linux-arm64)" >&2; exit 2 ;;
    esac
  fi
  LIBDIR=$OUT/lib
  CMAKEDIR=$OUT/cmake
  EMU=() # what runs the target's programs here
  [ -n "$CROSS" ] && EMU=(qemu-aarch64-static -L "/usr/$CROSS")
  return 0
}
rid_dirs

need_apt() { # need_apt <command-or-file> <package>...
  local probe=$1; shift
  if ! command -v "$probe" >/dev/null 2>&1 && [ ! -e "$probe" ]; then
    echo "== installing $* with apt"
    local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
  fi
}

# The version is written once, in include/luminal.h.
header_define() { sed -n "s/^#define LUMINAL_$1 \([0-9]*\).*/\1/p" include/luminal.h; }
VERSION="$(header_define VERSION_MAJOR).$(header_define VERSION_MINOR).$(header_define VERSION_PATCH)"
MAJOR=$(header_define VERSION_MAJOR)

# The cross toolchain: a C compiler and binutils for the target, its libc (the sysroot, /usr/$CROSS), clang-14 as
# NativeAOT's linker driver (NativeAOT passes --target=$CROSS, which gcc does not take; clang finds the cross gcc's
# crt files and libraries and links with $CROSS-ld) and qemu-user to run the result.
need_cross() {
  [ -n "$CROSS" ] || return 0
  need_apt "$CROSS-gcc" gcc-aarch64-linux-gnu g++-aarch64-linux-gnu binutils-aarch64-linux-gnu libc6-dev-arm64-cross
  need_apt clang-14 clang-14
  need_apt qemu-aarch64-static qemu-user-static
}

build_lib() {
  echo "== libluminal $VERSION ($RID, $CONFIG)"
  local cross_args=()
  if [ -n "$CROSS" ]; then need_cross; cross_args=(-p:CppCompilerAndLinker=clang-14); fi
  dotnet publish src/Luminal.Native -c "$CONFIG" -r "$RID" -o "$OUT/native" "${cross_args[@]+"${cross_args[@]}"}" \
    --nologo -v quiet -clp:ErrorsOnly
  mkdir -p "$LIBDIR"
  local real=$LIBNAME
  [ "$LIBNAME" = libluminal.so ] && real=libluminal.so.$VERSION
  # Copy, then rename: programs still running the old library keep their (unlinked) file intact.
  cp "$OUT/native/Luminal.Native${LIBNAME##*luminal}" "$LIBDIR/$real.tmp"
  mv -f "$LIBDIR/$real.tmp" "$LIBDIR/$real"
  if [ "$real" != "$LIBNAME" ]; then # the soname link (what programs load) and the link-time name
    ln -sfn "$real" "$LIBDIR/libluminal.so.$MAJOR"
    ln -sfn "libluminal.so.$MAJOR" "$LIBDIR/$LIBNAME"
  fi
}

# The layout probe (tests/layout): the runtime's kernel struct layouts and constants as compiled for $RID, which
# the CTest case native.kernel_layout compares with that architecture's C headers.
build_layout_probe() {
  echo "== layout probe ($RID)"
  local cross_args=()
  [ -n "$CROSS" ] && cross_args=(-p:CppCompilerAndLinker=clang-14)
  dotnet publish tests/layout -c "$CONFIG" -r "$RID" -o "$OUT/layout-probe" "${cross_args[@]+"${cross_args[@]}"}" \
    --nologo -v quiet -clp:ErrorsOnly
}

build_native() {
  need_apt cmake cmake
  if [ -z "$CROSS" ]; then
    need_apt valgrind valgrind   # before configuring: CMake registers the valgrind test only if it finds it
    need_apt clang-14 clang-14   # the ABI check parses the header with it
    need_apt pkg-config pkg-config # the consumer tests build a program the pkg-config way
  fi
  need_cross
  local toolchain=()
  [ -n "$CROSS" ] && toolchain=(-DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/toolchains/$CROSS.cmake")
  echo "== C/C++ (cmake, $RID)"
  cmake -S . -B "$CMAKEDIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLUMINAL_LIB_DIR="$LIBDIR" \
    "${toolchain[@]+"${toolchain[@]}"}" | { grep -E "^-- Luminal tests:" || true; }
  cmake --build "$CMAKEDIR" -j "$(nproc)" >/dev/null
}

# Rust for another architecture needs that target's std (rustup target add aarch64-unknown-linux-gnu), which this
# machine cannot download: the Rust side is built and tested on the host only.
rust_skipped() {
  [ -n "$CROSS" ] || return 1
  echo "== Rust: skipped for $RID (no aarch64-unknown-linux-gnu std here; the host run builds and tests it)"
}

build_rust() {
  [ -d bindings/rust ] || return 0
  rust_skipped && return 0
  echo "== Rust (cargo)"
  export LUMINAL_LIB_DIR="$LIBDIR"
  (cd bindings/rust && cargo build --release --offline --workspace --all-targets -q)
}

run_examples() {
  echo "== examples ($RID${CROSS:+, under ${EMU[0]}})"
  for e in "$CMAKEDIR"/examples/c/example_* "$CMAKEDIR"/examples/cpp/example_*; do
    [ -x "$e" ] || continue
    echo "-- $(basename "$e")"; "${EMU[@]+"${EMU[@]}"}" "$e"
  done
  if [ -z "$CROSS" ] && [ -x bindings/rust/run-examples.sh ]; then bindings/rust/run-examples.sh; fi
}

run_tests() {
  if [ -n "$CROSS" ]; then
    echo "== NUnit: runs on the host (./build.sh test); it checks the managed code, the same for every RID"
  else
    echo "== managed tests (NUnit)"
    dotnet test tests/managed -c "$CONFIG" --nologo -v quiet
  fi
  echo "== native tests (CTest, $RID${CROSS:+, under ${EMU[0]}})"
  (cd "$CMAKEDIR" && ctest --output-on-failure -j 2 -LE soak)
  if [ -d bindings/rust ] && ! rust_skipped; then
    echo "== Rust tests (cargo test)"
    (cd bindings/rust && LUMINAL_LIB_DIR="$LIBDIR" cargo test --release --offline --workspace -q)
    echo "== Rust futures-io adapter (cargo test, against Debian's librust-futures-io-dev)"
    need_apt /usr/share/doc/librust-futures-io-dev librust-futures-io-dev
    (cd bindings/rust/futures-io-compat && LUMINAL_LIB_DIR="$LIBDIR" cargo test --release --offline -q)
  fi
}

# Part of the host's `test` on linux-x64: libluminal cross-built for linux-arm64 and the CTest label arm64-ci (the
# layout check, the examples, a few cases per area; about a minute) under qemu-user. The whole arm64 suite under
# emulation takes several minutes: `./build.sh test --rid linux-arm64`. LUMINAL_SKIP_ARM64=1 leaves this out.
run_arm64_ci() {
  [ "$HOST_RID" = linux-x64 ] && [ "$RID" = linux-x64 ] && [ "${LUMINAL_SKIP_ARM64:-0}" != 1 ] || return 0
  RID=linux-arm64; rid_dirs
  build_lib; build_layout_probe; build_native
  echo "== native tests, linux-arm64 subset (CTest label arm64-ci, under ${EMU[0]})"
  (cd "$CMAKEDIR" && ctest --output-on-failure -j 2 -L arm64-ci)
  RID=$HOST_RID; rid_dirs
}

# The install tree (headers, versioned library and links, CMake package, pkg-config file) under $1. Only the
# install rules are configured (no tests or examples), in a build folder of its own.
install_tree() {
  need_apt cmake cmake
  echo "== install into $1"
  cmake -S . -B "$OUT/cmake-install" -DLUMINAL_BUILD_TESTS=OFF -DLUMINAL_LIB_DIR="$LIBDIR" >/dev/null
  cmake --install "$OUT/cmake-install" --prefix "$1" >/dev/null
}

# build/dist/luminal-VERSION-RID.tar.gz: the install tree with a stripped library, its debug symbols in a separate
# file (lib/libluminal.so.VERSION.debug, linked by .gnu_debuglink), LICENSE, README and CHANGELOG.
dist() {
  local name=luminal-$VERSION-$RID stage="$BUILD/dist/stage"
  rm -rf "$stage" && mkdir -p "$stage/$name"
  install_tree "$stage/$name"
  local lib="$stage/$name/lib/libluminal.so.$VERSION"
  local objcopy=objcopy strip=strip # the target's binutils: the host's do not read another architecture
  [ -n "$CROSS" ] && objcopy=$CROSS-objcopy strip=$CROSS-strip
  if [ -f "$lib" ]; then
    $objcopy --only-keep-debug "$lib" "$lib.debug"
    $strip --strip-unneeded "$lib"
    (cd "$(dirname "$lib")" && $objcopy --add-gnu-debuglink="$(basename "$lib").debug" "$(basename "$lib")")
  fi
  cp LICENSE README.md CHANGELOG.md "$stage/$name/"
  tar -C "$stage" -czf "$BUILD/dist/$name.tar.gz" "$name"
  rm -rf "$stage"
  echo "== wrote build/dist/$name.tar.gz"
}

run_soak() {
  echo "== long fuzz pass and soak (CTest label soak; LUMSOAK_SECONDS=${LUMSOAK_SECONDS:-300})"
  (cd "$CMAKEDIR" && ctest --output-on-failure -V -L soak)
}

MODE=${1:-all}
case "$MODE" in bench|soak) [ -z "$CROSS" ] || { echo "$MODE runs on the host's architecture only" >&2; exit 2; } ;; esac
case "$MODE" in
  lib) build_lib ;;
  all) build_lib; build_native; build_rust; run_examples ;;
  test) build_lib; build_layout_probe; build_native; build_rust; run_tests; run_arm64_ci ;;
  bench) build_lib; build_native; build_rust; bench/run.sh; exec bench/hooks.sh ;;
  install) build_lib; install_tree "${2:-/usr/local}" ;;
  dist) build_lib; dist ;;
  soak) build_lib; build_native; run_soak ;;
  *) echo "usage: $0 [all|test|lib|bench|soak|install [PREFIX]|dist] [--rid linux-x64|linux-arm64]" >&2; exit 2 ;;
esac
