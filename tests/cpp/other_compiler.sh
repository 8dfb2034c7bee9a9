#!/usr/bin/env bash
# Builds the C++ tests with the compiler CMake did not pick (clang++-14 next to g++, g++ next to clang++),
# -std=c++17 (the C++17 part) and -std=c++20 (everything), -Wall -Wextra -Werror, and runs every case.
# Usage: other_compiler.sh CMAKE_CXX_COMPILER_ID SOURCE_DIR LIB_DIR OUT_DIR. Exit 77 (skipped) without the compiler.
set -euo pipefail
id=$1 src=$2 lib=$3 out=$4
if [ "$id" = GNU ]; then cxx=$(command -v clang++-14 || command -v clang++ || true); else cxx=$(command -v g++ || true); fi
[ -n "$cxx" ] || { echo "no other C++ compiler: skipped"; exit 77; }
mkdir -p "$out"
t=$src/tests/cpp
flags=(-Wall -Wextra -Werror -O1 -g -I"$src/include" -I"$t" -L"$lib" -lluminal -Wl,-rpath,"$lib" -pthread)
echo "== $cxx -std=c++17"
"$cxx" -std=c++17 "$t/test_main.cpp" "$t/test_wrappers.cpp" "$t/test_runtime_ext.cpp" "${flags[@]}" -o "$out/cpp_tests17"
"$out/cpp_tests17" --all
echo "== $cxx -std=c++20"
unique=(); [ "$id" = GNU ] || unique=(-fno-gnu-unique) # g++ (see LUMINAL_CPP_PLUGIN in luminal.hpp)
"$cxx" -std=c++20 -shared -fPIC -fvisibility=hidden -fvisibility-inlines-hidden "${unique[@]}" "$t/coro_plugin.cpp" \
  "${flags[@]}" -o "$out/libcpp_coro_plugin.so"
"$cxx" -std=c++20 "$t/test_main.cpp" "$t/test_wrappers.cpp" "$t/test_runtime_ext.cpp" "$t/test_tasks.cpp" \
  "$t/test_plugins.cpp" "$t/test_io_ext.cpp" -DCPP_CORO_PLUGIN_PATH="\"$out/libcpp_coro_plugin.so\"" "${flags[@]}" -ldl -o "$out/cpp_tests"
"$out/cpp_tests" --all
