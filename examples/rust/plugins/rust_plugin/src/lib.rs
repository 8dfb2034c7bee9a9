//! The Rust plugin: a cdylib with its own copy of the `luminal` crate, implementing the plugin contract of
//! include/luminal_plugin.h with [`luminal::plugin::Entry`] and [`luminal::export_plugin!`]. The host's
//! `luminal_plugin_open` hands it the host's runtime and a scope of its own; everything it spawns goes into that
//! scope, so the host's `luminal_plugin_close` can drain it, call fini and unload this library while the runtime
//! keeps running. The functions the host calls (start, park) are handed over in the host's `lx_host_api`
//! (plugin_api.h), which init fills in.
//!
//! The player sends 0 to the C plugin, which answers 1; it sends 2 and gets 3, and so on. Receiving is a Rust
//! future that leaves the task's `luminal_waker` in the host's mailbox; the C plugin's send (through the host)
//! wakes it. Inside its task the plugin also uses `luminal::spawn` (the context of its own copy of the crate).
use luminal::ffi::{luminal_scope_counters, luminal_status, luminal_task, luminal_waker};
use luminal::plugin::{Entry, Host};
use luminal::task::Builder;
use luminal::{time, Handle, RuntimeError};
use std::ffi::{c_char, c_int, c_void};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Opaque host mailbox.
#[repr(C)]
pub struct LxMailbox {
    _private: [u8; 0],
}

type StartFn =
    unsafe extern "C" fn(*mut c_void, *mut LxMailbox, *mut LxMailbox, u64, *mut *mut luminal_task) -> luminal_status;
type ParkFn = unsafe extern "C" fn(*mut c_void, *mut LxMailbox, u32) -> luminal_status;

/// Mirror of `lx_host_api` in plugin_api.h.
#[repr(C)]
pub struct LxHostApi {
    pub struct_size: usize,
    pub mailbox_send: unsafe extern "C" fn(mb: *mut LxMailbox, value: u64),
    pub mailbox_recv: unsafe extern "C" fn(mb: *mut LxMailbox, waker: *const luminal_waker, out: *mut u64) -> c_int,
    pub name: *const c_char,
    pub luminal_spawn_address: *const c_void,
    pub plugin: *mut c_void,
    pub start: Option<StartFn>,
    pub park: Option<ParkFn>,
    pub scope_at_fini: luminal_scope_counters,
    pub fini_calls: u32,
}

/// The plugin: what init made, kept until fini. `state` is boxed so its address (handed to the host as
/// `lx_host_api.plugin`) does not move.
struct RustPlugin {
    state: Box<State>,
}

struct State {
    host: Host,
    api: *mut LxHostApi,
}

impl Entry for RustPlugin {
    fn init(host: &Host) -> Result<Self, RuntimeError> {
        let api = host.host_data() as *mut LxHostApi;
        // SAFETY: the host passes its lx_host_api (checked by size), valid until fini returns.
        if api.is_null() || unsafe { (*api).struct_size } < std::mem::size_of::<LxHostApi>() {
            return Err(RuntimeError::from_status(luminal::ffi::LUMINAL_E_INVALID_ARGUMENT));
        }
        let mut state = Box::new(State { host: *host, api });
        // SAFETY: as above; the host reads these fields only after init returned.
        unsafe {
            (*api).name = c"rust_plugin".as_ptr();
            (*api).luminal_spawn_address =
                luminal::library::functions().map_or(std::ptr::null(), |f| f.luminal_spawn as *const c_void);
            (*api).plugin = &mut *state as *mut State as *mut c_void;
            (*api).start = Some(start);
            (*api).park = Some(park);
        }
        Ok(RustPlugin { state })
    }

    /// The scope is drained: record its counters for the host, and take the functions back.
    fn fini(self) {
        let stats = self.state.host.scope().and_then(|s| s.try_stats()).unwrap_or_default();
        let api = self.state.api;
        // SAFETY: the host's struct, valid until fini returns.
        unsafe {
            (*api).scope_at_fini = luminal_scope_counters {
                struct_size: std::mem::size_of::<luminal_scope_counters>(),
                live: stats.live,
                spawned: stats.spawned,
                completed: stats.completed,
                cancelled: stats.cancelled,
                polls: stats.polls,
                poll_ns: stats.poll_time.as_nanos() as u64,
            };
            (*api).start = None;
            (*api).park = None;
            (*api).plugin = std::ptr::null_mut();
            (*api).fini_calls += 1;
        }
    }
}

luminal::export_plugin!(RustPlugin);

/// The host's mailbox functions and the two mailboxes, moved into the player task.
#[derive(Clone, Copy)]
struct Link {
    send: unsafe extern "C" fn(mb: *mut LxMailbox, value: u64),
    recv: unsafe extern "C" fn(mb: *mut LxMailbox, waker: *const luminal_waker, out: *mut u64) -> c_int,
    inbox: *mut LxMailbox,
    outbox: *mut LxMailbox,
}
// SAFETY: the host's mailbox functions are thread-safe and the mailboxes outlive the tasks.
unsafe impl Send for Link {}

impl Link {
    fn new(state: &State, inbox: *mut LxMailbox, outbox: *mut LxMailbox) -> Link {
        // SAFETY: the host's struct, valid while the plugin is loaded.
        let api = unsafe { &*state.api };
        Link { send: api.mailbox_send, recv: api.mailbox_recv, inbox, outbox }
    }

    fn send(&self, v: u64) {
        // SAFETY: a live mailbox (the host keeps it until the plugin is closed).
        unsafe { (self.send)(self.outbox, v) }
    }

    fn recv(&self) -> Recv {
        Recv { link: *self }
    }
}

/// Waits for the next value of the inbox.
struct Recv {
    link: Link,
}

impl Future for Recv {
    type Output = u64;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        // The mailbox stores luminal wakers; ours is one as long as we are polled by our own task.
        let waker = luminal::waker::as_raw(cx.waker()).expect("Recv must be polled by a Luminal task");
        let mut v = 0;
        // SAFETY: a live mailbox; `waker` is borrowed for the call.
        if unsafe { (self.link.recv)(self.link.inbox, waker, &mut v) } != 0 {
            Poll::Ready(v)
        } else {
            Poll::Pending
        }
    }
}

async fn player(link: Link, rounds: u64) -> usize {
    let mut checksum = 0u64;
    for i in 0..rounds {
        // Nested spawn through this plugin's own copy of the crate: onto the current worker's queue (and into the
        // plugin's scope, inherited from this task).
        let to_send = luminal::spawn(async move { 2 * i }).await.expect("nested task failed");
        link.send(to_send);
        let answer = link.recv().await;
        assert_eq!(answer, to_send + 1, "the C plugin answers n + 1");
        checksum += answer;
    }
    checksum as usize
}

/// `lx_host_api.start`: spawns the player into the plugin's scope.
///
/// # Safety
/// `plugin` is the `State` init handed out; the mailboxes outlive the task.
unsafe extern "C" fn start(
    plugin: *mut c_void,
    inbox: *mut LxMailbox,
    outbox: *mut LxMailbox,
    rounds: u64,
    out: *mut *mut luminal_task,
) -> luminal_status {
    if plugin.is_null() || out.is_null() {
        return luminal::ffi::LUMINAL_E_INVALID_ARGUMENT;
    }
    // SAFETY: the caller's contract.
    let state = unsafe { &*(plugin as *const State) };
    let link = Link::new(state, inbox, outbox);
    let scope = match state.host.scope() {
        Ok(s) => s,
        Err(e) => return e.status(),
    };
    match Builder::new().scope(&scope).spawn_raw_on(scope.runtime(), player(link, rounds)) {
        Ok(task) => {
            // SAFETY: `out` is writable (checked non-NULL).
            unsafe { *out = task.into_raw() };
            luminal::ffi::LUMINAL_OK
        }
        Err(e) => e.status(),
    }
}

/// `lx_host_api.park`: `count` background tasks in the plugin's scope that stay pending. The first waits on
/// `mailbox`; the others sleep for an hour on the runtime's timers (`luminal::time::sleep`, with the context of
/// this plugin's own copy of the crate).
///
/// # Safety
/// `plugin` is the `State` init handed out; the mailbox outlives the tasks.
unsafe extern "C" fn park(plugin: *mut c_void, mailbox: *mut LxMailbox, count: u32) -> luminal_status {
    if plugin.is_null() {
        return luminal::ffi::LUMINAL_E_INVALID_ARGUMENT;
    }
    // SAFETY: the caller's contract.
    let state = unsafe { &*(plugin as *const State) };
    let scope = match state.host.scope() {
        Ok(s) => s,
        Err(e) => return e.status(),
    };
    for i in 0..count {
        let link = Link::new(state, mailbox, mailbox);
        // Detached (the JoinHandle is dropped): closing the plugin is what ends them.
        let spawned = Builder::new().scope(&scope).spawn_on(scope.runtime(), async move {
            if i == 0 {
                link.recv().await
            } else {
                let start = time::Instant::now();
                time::sleep(&Handle::current(), Duration::from_secs(3600)).await;
                start.elapsed().as_secs()
            }
        });
        if let Err(e) = spawned {
            return e.status();
        }
    }
    luminal::ffi::LUMINAL_OK
}
