/*
 * luminal_plugin.h — the contract a Luminal plugin implements, in any language (C, C++, Rust, ...).
 *
 * A plugin is a shared library that spawns its work onto its host's runtime; it has no runtime of its own. The host
 * loads it with luminal_plugin_open and unloads it with luminal_plugin_close (both in luminal.h). The plugin
 * exports exactly two functions, with C linkage and default visibility (declare them with LUMINAL_PLUGIN_EXPORT):
 *
 *   luminal_status luminal_plugin_init(const luminal_plugin_host *host, void **plugin_state);
 *   void luminal_plugin_fini(void *plugin_state);
 *
 * Lifecycle (what the library guarantees, in order):
 *  1. luminal_plugin_open loads the library (dlopen RTLD_NOW | RTLD_LOCAL), resolves both symbols, creates the
 *     plugin's scope and calls init ONCE, on the thread that called luminal_plugin_open (never a worker of the
 *     runtime: open refuses to run there). `host` stays valid and unchanged until fini returns (see
 *     luminal_plugin_host in luminal.h: struct_size, abi_version, runtime, scope, host_data). init stores whatever
 *     it needs in *plugin_state (initially NULL; any value) and returns LUMINAL_OK to stay loaded.
 *  2. While loaded, the plugin spawns every task into host->scope: luminal_spawn_with with
 *     luminal_spawn_options.scope = host->scope (luminal_context_spawn from one of its tasks inherits the scope;
 *     so do luminal_spawn_blocking_with calls given the scope). Its code may run on any thread of the runtime.
 *  3. luminal_plugin_close closes the scope (no new spawn into it succeeds; its tasks are aborted, their unclaimed
 *     outputs freed) and waits until every poll, drop and drop_output of the scope's tasks has returned. Only then
 *     does it call fini ONCE, on the thread that called luminal_plugin_close (which may be any thread but one of
 *     the plugin's own tasks), with the *plugin_state init stored. After fini returns, the library unloads it.
 *     If the scope does not drain in time, close returns LUMINAL_E_TIMED_OUT without calling fini: fini runs
 *     exactly once, at the close that succeeds.
 *  4. A runtime shut down while the plugin is loaded drops its tasks (the library is still loaded: safe) and does
 *     not call fini; the host's later luminal_plugin_close calls it (host->runtime is then shut down or stale:
 *     calls on it fail with LUMINAL_E_SHUTDOWN or LUMINAL_E_INVALID_HANDLE, they never crash).
 *
 * What init may do: anything a thread that is not a worker may do (spawn into host->scope, create channels, clone
 * host->runtime, block). If it fails it returns an error status (anything but LUMINAL_OK; the host gets
 * LUMINAL_E_PLUGIN_INIT) after freeing what it made, as fini is NOT called then; tasks it already spawned into the
 * scope are cancelled and waited for before the library is unloaded.
 *
 * What fini may do: free the state, release handles it holds (channel ends, wakers, runtime clones), join threads
 * it started, call any luminal function. The scope is closed (spawning into it fails with LUMINAL_E_SHUTDOWN, the
 * future is dropped at once) but its handle is still valid (luminal_scope_stats works). It must not spawn work
 * that outlives it elsewhere (another scope, or no scope): nothing would wait for it before the library goes.
 * fini must make sure that nothing can call into the library after it returns: no thread of its own still
 * running, no channel whose drop_message is its function, no callback registered with the host. Wakers of its
 * (finished) tasks may stay with the host: calling them afterwards does nothing.
 *
 * Neither init nor fini may unwind into the library (a C++ exception or a Rust panic escaping them aborts the
 * process): catch everything at the boundary (the Rust crate's luminal::export_plugin! does).
 */
#ifndef LUMINAL_PLUGIN_H
#define LUMINAL_PLUGIN_H

#include "luminal.h"

#include <stddef.h>

/* Put in front of the definitions of luminal_plugin_init and luminal_plugin_fini: C linkage (in C++) and the
 * visibility that exports them from the shared library even when it is built with -fvisibility=hidden. */
#if defined(_WIN32)
#  define LUMINAL_PLUGIN_VISIBILITY __declspec(dllexport)
#else
#  define LUMINAL_PLUGIN_VISIBILITY __attribute__((visibility("default")))
#endif
#ifdef __cplusplus
#  define LUMINAL_PLUGIN_EXPORT extern "C" LUMINAL_PLUGIN_VISIBILITY
#else
#  define LUMINAL_PLUGIN_EXPORT LUMINAL_PLUGIN_VISIBILITY
#endif

/* The symbol names luminal_plugin_open looks up. */
#define LUMINAL_PLUGIN_INIT_SYMBOL "luminal_plugin_init"
#define LUMINAL_PLUGIN_FINI_SYMBOL "luminal_plugin_fini"

/* 1 if the host struct `h` (a const luminal_plugin_host*) has the field `field`: the library that wrote it may be
 * older than this header. Use it before reading a field added after the first version. */
#define LUMINAL_PLUGIN_HOST_HAS(h, field) \
  ((h)->struct_size >= offsetof(luminal_plugin_host, field) + sizeof((h)->field))

#ifdef __cplusplus
extern "C" {
#endif

/* The entry points' types, for hosts and bindings that resolve them themselves. */
typedef luminal_status (*luminal_plugin_init_fn)(const luminal_plugin_host *host, void **plugin_state);
typedef void (*luminal_plugin_fini_fn)(void *plugin_state);

/* The entry points, declared here so a definition that does not match this contract fails to compile. `host` is
 * borrowed until fini returns; `plugin_state` points to a NULL the plugin may overwrite. */
LUMINAL_PLUGIN_VISIBILITY luminal_status luminal_plugin_init(const luminal_plugin_host *host, void **plugin_state);
LUMINAL_PLUGIN_VISIBILITY void luminal_plugin_fini(void *plugin_state);

#ifdef __cplusplus
}
#endif

#endif /* LUMINAL_PLUGIN_H */
