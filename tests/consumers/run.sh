#!/usr/bin/env bash
# Builds a real consumer of Luminal from outside the tree and runs it (CTest runs each way as its own test).
#   run.sh install-package|pkg-config|subdir|exports  SOURCE_DIR CMAKE_BINARY_DIR WORK_DIR
# install-package: `cmake --install` into a fresh prefix, then a separate CMake project with find_package(Luminal).
# pkg-config: the same prefix, a Makefile-style compile with `pkg-config --cflags --libs luminal`.
# subdir: a parent project that add_subdirectory()s the source tree.
# relocated: the installed tree moved elsewhere (as an unpacked release archive is) still works both ways.
# exports: `nm -D` of the installed library exports exactly the functions include/luminal.h declares.
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
    readelf -d "$lib" | grep -q "SONAME.*\[libluminal\.so\.[0-9]*\]" || { echo "no SONAME libluminal.so.MAJOR"; exit 1; }
    [ -L "$prefix/lib/libluminal.so" ] && [ -L "$(ls -d "$prefix"/lib/libluminal.so.[0-9]* | grep -v '\..*\..*\.' | head -1)" ]
    # (type A: the version node's own symbol, LUMINAL_MAJOR, is not a function)
    nm -D --defined-only "$lib" | awk '$2 != "A" {print $3}' | sed 's/@.*//' | sort -u > "$work/exported"
    grep -o '^LUMINAL_API [^(]*(' "$src/include/luminal.h" | sed 's/.*[ *]\([a-z_0-9]*\)($/\1/' | sort -u > "$work/declared"
    if ! diff -u "$work/declared" "$work/exported"; then echo "exports differ from the header (- header, + library)"; exit 1; fi
    objdump -T "$lib" | grep -q ' LUMINAL_[0-9]* *luminal_spawn$' || { echo "symbols lack the LUMINAL_MAJOR version"; exit 1; }
    echo "$(wc -l < "$work/exported") functions exported, all declared in luminal.h" ;;
  *) echo "unknown consumer $how" >&2; exit 2 ;;
esac
