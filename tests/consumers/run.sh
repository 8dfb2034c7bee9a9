#!/usr/bin/env bash
# Builds a real consumer of Luminal from outside the tree and runs it (CTest runs each way as its own test).
#   run.sh install-package|pkg-config|relocated|subdir|exports|rust|rust-pkg-config  SOURCE_DIR CMAKE_BINARY_DIR WORK_DIR
# install-package: `cmake --install` into a fresh prefix, then a separate CMake project with find_package(Luminal).
# pkg-config: the same prefix, a Makefile-style compile with `pkg-config --cflags --libs luminal`.
# subdir: a parent project that add_subdirectory()s the source tree.
# relocated: the installed tree moved elsewhere (as an unpacked release archive is) still works both ways.
# exports: `nm -D` of the installed library exports exactly the functions include/luminal.h declares.
# rust: a Cargo project outside the repository depending on the Rust binding by path, built offline and run with no
#   environment at all: the crate finds libluminal in the repository's build/lib and loads it itself.
# rust-pkg-config: the same against the install prefix, found by the crate's build.rs through pkg-config; the crate
#   is the packaged one (`cargo package`), unpacked outside the repository, so build/lib is out of its reach.
set -euo pipefail
how=$1 src=$2 bin=$3 work=$4
prefix=$work/prefix
if [ "$how" != install-package-at ]; then
  rm -rf "$work" && mkdir -p "$work"
  cmake --install "$bin" --prefix "$prefix" >/dev/null
fi
# Nothing from the build tree may leak in: the programs find the library through the prefix only.
unset LD_LIBRARY_PATH
case $how in
  install-package)
    cmake -S "$src/tests/consumers/cmake_package" -B "$work/b" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_BUILD_RPATH="$prefix/lib" >/dev/null
    cmake --build "$work/b" >/dev/null
    "$work/b/consumer" ;;
  pkg-config)
    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
    [ "$(pkg-config --modversion luminal)" = "$(sed -n 's/^#define LUMINAL_VERSION_STRING "\(.*\)"/\1/p' "$src/include/luminal.h")" ]
    # shellcheck disable=SC2046
    cc -o "$work/consumer" "$src/tests/consumers/consumer.c" $(pkg-config --cflags --libs luminal) \
      -Wl,-rpath,"$(pkg-config --variable=libdir luminal)"
    "$work/consumer" ;;
  relocated)
    mv "$prefix" "$work/moved"
    "$0" install-package-at "$src" "$bin" "$work" "$work/moved"
    ;;
  install-package-at) # (used by relocated) both ways against an existing tree at $5
    p=$5
    cmake -S "$src/tests/consumers/cmake_package" -B "$work/b" -DCMAKE_PREFIX_PATH="$p" -DCMAKE_BUILD_RPATH="$p/lib" >/dev/null
    cmake --build "$work/b" >/dev/null
    "$work/b/consumer"
    PKG_CONFIG_PATH="$p/lib/pkgconfig" cc -o "$work/consumer-pc" "$src/tests/consumers/consumer.c" \
      $(PKG_CONFIG_PATH="$p/lib/pkgconfig" pkg-config --cflags --libs luminal) -Wl,-rpath,"$p/lib"
    "$work/consumer-pc" ;;
  subdir)
    cmake -S "$src/tests/consumers/cmake_subdir" -B "$work/b" -DLUMINAL_SOURCE_DIR="$src" \
      -DLUMINAL_LIB_DIR="$src/build/lib" -DCMAKE_BUILD_RPATH="$src/build/lib" >/dev/null
    cmake --build "$work/b" >/dev/null
    "$work/b/consumer" ;;
  exports)
    lib=$(ls "$prefix"/lib/libluminal.so.*.*.*)
    # (grep reads a captured output: `tool | grep -q` under pipefail fails when grep quits before the tool is done)
    dyn=$(readelf -d "$lib")
    grep -q "SONAME.*\[libluminal\.so\.[0-9]*\]" <<<"$dyn" || { echo "no SONAME libluminal.so.MAJOR"; exit 1; }
    [ -L "$prefix/lib/libluminal.so" ] && [ -L "$(ls -d "$prefix"/lib/libluminal.so.[0-9]* | grep -v '\..*\..*\.' | head -1)" ]
    # (type A: the version node's own symbol, LUMINAL_MAJOR, is not a function)
    nm -D --defined-only "$lib" | awk '$2 != "A" {print $3}' | sed 's/@.*//' | sort -u > "$work/exported"
    grep -o '^LUMINAL_API [^(]*(' "$src/include/luminal.h" | sed 's/.*[ *]\([a-z_0-9]*\)($/\1/' | sort -u > "$work/declared"
    if ! diff -u "$work/declared" "$work/exported"; then echo "exports differ from the header (- header, + library)"; exit 1; fi
    syms=$(objdump -T "$lib")
    grep -q ' LUMINAL_[0-9]* *luminal_spawn$' <<<"$syms" || { echo "symbols lack the LUMINAL_MAJOR version"; exit 1; }
    echo "$(wc -l < "$work/exported") functions exported, all declared in luminal.h" ;;
  rust|rust-pkg-config)
    major=$(sed -n 's/^#define LUMINAL_VERSION_MAJOR \([0-9]*\).*/\1/p' "$src/include/luminal.h")
    # Outside the repository, at a path fixed per build tree (so that re-runs rebuild only what changed).
    app=${TMPDIR:-/tmp}/luminal-consumer-$(printf %s "$bin" | cksum | cut -d' ' -f1)-$how
    rm -rf "$app" && mkdir -p "$app"
    trap 'rm -rf "$app"' EXIT
    export CARGO_TARGET_DIR="$bin/consumer-cargo-target-$how" # kept in the build tree between runs
    unset LUMINAL_LIB_DIR PKG_CONFIG_PATH
    # pkg-config sees only what the test says: a luminal.pc installed system-wide must not decide the outcome.
    export PKG_CONFIG_LIBDIR="$app/no-pkg-config-dir"
    if [ "$how" = rust ]; then
      crate=$src/bindings/rust/luminal lib=$src/build/lib expect=repository
    else
      # The crate as published (workspace settings inlined), unpacked outside the repository.
      (cd "$src/bindings/rust" && CARGO_TARGET_DIR="$app/package" cargo package --offline --no-verify --allow-dirty -q -p libluminal)
      mkdir -p "$app/vendor" && tar -C "$app/vendor" -xzf "$app"/package/package/libluminal-*.crate
      # The archive keeps the sources' times: touch them, or the kept target dir may count an older build as fresh.
      find "$app/vendor" -type f -exec touch {} +
      crate=$(ls -d "$app"/vendor/libluminal-*) lib=$prefix/lib expect=pkg-config
      export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
    fi
    sed "s|@LUMINAL_CRATE@|$crate|" "$src/tests/consumers/rust/Cargo.toml.in" > "$app/Cargo.toml"
    cp -r "$src/tests/consumers/rust/src" "$app/src"
    (cd "$app" && cargo build --offline -q)
    exe=$CARGO_TARGET_DIR/debug/luminal-consumer
    # Neither linked to libluminal nor given an rpath: the crate loads the library (dlopen by absolute path).
    exedyn=$(readelf -d "$exe")
    if grep -Eq 'NEEDED.*libluminal|RPATH|RUNPATH' <<<"$exedyn"; then
      echo "the consumer links libluminal or has an rpath:"; readelf -d "$exe" | grep -E 'NEEDED|RPATH|RUNPATH'; exit 1
    fi
    check_run() { # check_run EXPECTED_LIB_DIR [VAR=VALUE...]: runs the consumer with only PATH and the given variables
      local want=$1; shift
      local out; out=$(env -i PATH="$PATH" "$@" "$exe")
      echo "$out"
      grep -qx "sum=5235" <<<"$out" || { echo "wrong sum"; exit 1; }
      grep -qx "source=$expect" <<<"$out" || { echo "build.rs did not find the library through $expect"; exit 1; }
      [ "$(readlink -f "$(sed -n 's/^loaded=//p' <<<"$out")")" = "$(readlink -f "$want/libluminal.so.$major")" ] ||
        { echo "loaded another libluminal than $want's"; exit 1; }
    }
    check_run "$lib"
    # LUMINAL_LIB_DIR at run time overrides; a wrong one is reported, naming the variable and the path tried.
    if env -i PATH="$PATH" LUMINAL_LIB_DIR="$app/nowhere" "$exe" >/dev/null 2>"$app/err"; then
      echo "the consumer ran with LUMINAL_LIB_DIR pointing nowhere"; exit 1
    fi
    grep -q "LUMINAL_LIB_DIR" "$app/err" && grep -qF "$app/nowhere/libluminal.so.$major" "$app/err" ||
      { echo "unclear error:"; cat "$app/err"; exit 1; }
    if [ "$how" = rust-pkg-config ]; then # the install tree moved: the run-time override finds it
      mv "$prefix" "$work/moved"
      check_run "$work/moved/lib" LUMINAL_LIB_DIR="$work/moved/lib"
    fi ;;
  *) echo "unknown consumer $how" >&2; exit 2 ;;
esac
