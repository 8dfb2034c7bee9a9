# What the test platform can run, decided once at configure time for tests/native and examples/c: natively, or
# cross-built and run through CMAKE_CROSSCOMPILING_EMULATOR (qemu-user; cmake/toolchains/aarch64-linux-gnu.cmake).
#
#   LUMINAL_TEST_IO_BACKENDS   the backends the IO_TEST cases run on: "uring;pool", or "pool" where io_uring_setup
#                              fails (qemu-user does not emulate io_uring: ENOSYS; a kernel or seccomp may forbid it)
#   LUMINAL_TEST_EMULATED      ON when the tests run under an emulator
#   luminal_test_platform_properties()  called at the end of a test directory: disables the cases the platform
#                              cannot run (saying why) and labels the emulated CI subset
include_guard(GLOBAL)

if(CMAKE_CROSSCOMPILING AND CMAKE_CROSSCOMPILING_EMULATOR)
  set(LUMINAL_TEST_EMULATED ON)
else()
  set(LUMINAL_TEST_EMULATED OFF)
endif()

# Can this platform (the emulator, if any: try_run runs through it) make an io_uring? The library itself falls back
# to the pool backend when it cannot (LUMINAL_IO_AUTO); the tests that demand io_uring are disabled.
if(NOT DEFINED LUMINAL_TEST_HAS_IO_URING)
  set(_probe "${CMAKE_CURRENT_BINARY_DIR}/luminal_io_uring_probe.c")
  file(WRITE "${_probe}" [=[
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
  unsigned char params[120]; /* struct io_uring_params */
  memset(params, 0, sizeof params);
  long fd = syscall(425 /* io_uring_setup: the same number on x86_64 and arm64 */, 4, params);
  if (fd < 0) return 1;
  close((int)fd);
  return 0;
}
]=])
  try_run(_run _compiled "${CMAKE_CURRENT_BINARY_DIR}/luminal_io_uring_probe" "${_probe}")
  if(_compiled AND "${_run}" STREQUAL "0")
    set(_has ON)
  else()
    set(_has OFF)
  endif()
  set(LUMINAL_TEST_HAS_IO_URING ${_has} CACHE BOOL "io_uring_setup works where the tests run (probed)")
endif()
if(LUMINAL_TEST_HAS_IO_URING)
  set(LUMINAL_TEST_IO_BACKENDS uring pool)
else()
  set(LUMINAL_TEST_IO_BACKENDS pool)
  set(_where "here")
  if(LUMINAL_TEST_EMULATED)
    list(GET CMAKE_CROSSCOMPILING_EMULATOR 0 _emu)
    get_filename_component(_emu "${_emu}" NAME)
    set(_where "under ${_emu}")
  endif()
  message(STATUS "Luminal tests: io_uring is not available ${_where}: the IO tests run on the pool backend only "
    "(as the library itself falls back to it)")
endif()

# The cases that need io_uring itself (not an IO_TEST: those simply run on pool only above).
set(LUMINAL_TESTS_NEEDING_IO_URING native.io_env_forces_pool native.io_env_read_at_creation native.io_backends_agree)
# The cases qemu-user cannot run, and why.
set(LUMINAL_TESTS_NOT_UNDER_EMULATION
  "native.io_uring_demanded_but_forbidden_is_unsupported|qemu-user refuses PR_SET_SECCOMP (its filter would apply to the emulator's own system calls)"
  "native.io_many_waiting_pipes_need_no_thread_each.pool|qemu-user 7.2 has no preadv2 (RWF_NOWAIT): blocking-mode pipes take the pool-thread fallback, which the byte this test steals can block"
  "native.sleep_100k_concurrent|its lateness bound is for native speed (spawning the 100,000 sleeps alone takes seconds under qemu)"
  "native.fork_inherited_runtime_is_refused|under qemu-user the forked child often hangs, its threads spinning in sched_yield: so does the x86_64 build under qemu-x86_64, while natively it passes")

# The emulated subset CI runs (label arm64-ci; `ctest -L arm64-ci`): the layout check, the examples, and one or
# two cases per area that exercise the code whose correctness depends on the architecture (futex parking and
# wakes, the lock-free queues and state words under stealing, timers, the epoll reactor, stat): about a minute
# under qemu. The whole suite is `./build.sh test --rid linux-arm64`.
set(LUMINAL_EMULATED_CI_TESTS
  native.kernel_layout example.hello example.fanout example.plugin_host
  native.abi_and_version native.spawn_join_basic native.block_on_foreign_wake native.wake_from_foreign_threads
  native.concurrent_joiners_one_winner native.spawn_100k_join_all native.context_spawn_100k_detached
  native.sleep_ordering native.scope_close_cancels_everything native.channel_fifo_and_close
  native.io_file_roundtrip.pool native.io_errors.pool native.io_tcp_echo.pool native.io_pipes_both_directions.pool
  native.io_cancel_pipe.pool)

function(luminal_test_platform_properties)
  set(_off "")
  if(NOT LUMINAL_TEST_HAS_IO_URING)
    foreach(t IN LISTS LUMINAL_TESTS_NEEDING_IO_URING)
      list(APPEND _off "${t}|needs io_uring")
    endforeach()
  endif()
  if(LUMINAL_TEST_EMULATED)
    list(APPEND _off ${LUMINAL_TESTS_NOT_UNDER_EMULATION})
  endif()
  foreach(entry IN LISTS _off)
    string(REPLACE "|" ";" entry "${entry}")
    list(GET entry 0 t)
    list(GET entry 1 why)
    if(TEST ${t})
      set_tests_properties(${t} PROPERTIES DISABLED ON)
      message(STATUS "Luminal tests: ${t} disabled here: ${why}")
    endif()
  endforeach()
  if(LUMINAL_TEST_EMULATED)
    foreach(t IN LISTS LUMINAL_EMULATED_CI_TESTS)
      if(TEST ${t})
        set_property(TEST ${t} APPEND PROPERTY LABELS arm64-ci)
      endif()
    endforeach()
  endif()
endfunction()
