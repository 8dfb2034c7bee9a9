# Cross-build Luminal's C tests and examples for linux-arm64 on an x86_64 Debian/Ubuntu host
# (./build.sh test --rid linux-arm64 passes it; apt packages gcc-aarch64-linux-gnu g++-aarch64-linux-gnu
# libc6-dev-arm64-cross qemu-user-static). The sysroot is the cross libc's folder, /usr/aarch64-linux-gnu: the
# cross gcc finds it by itself, and qemu-user loads the programs' libraries from it (-L). CTest runs every test
# program through CMAKE_CROSSCOMPILING_EMULATOR, so `ctest` works as it does natively.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(LUMINAL_CROSS_TRIPLE aarch64-linux-gnu)
set(LUMINAL_CROSS_SYSROOT /usr/${LUMINAL_CROSS_TRIPLE} CACHE PATH "The target's libc and headers")
set(CMAKE_C_COMPILER ${LUMINAL_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${LUMINAL_CROSS_TRIPLE}-g++)

# Look for libraries and headers in the target's folder only; programs (cmake, valgrind...) on the host.
set(CMAKE_FIND_ROOT_PATH ${LUMINAL_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(LUMINAL_QEMU NAMES qemu-aarch64-static qemu-aarch64)
if(LUMINAL_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${LUMINAL_QEMU} -L ${LUMINAL_CROSS_SYSROOT})
endif()
