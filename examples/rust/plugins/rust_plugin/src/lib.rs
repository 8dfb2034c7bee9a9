//! The Rust plugin: a cdylib with its own copy of the `luminal` crate. It receives the host's runtime as a plain
//! `luminal_runtime*` and its scope as a plain `luminal_scope*`, spawns its tasks into that scope and hands back a
//! plain `luminal_task*`. Because everything it runs is in its scope, the host can close the scope and unload this
//! library while the runtime keeps running.
//!
//! The player sends 0 to the C plugin, which answers 1; it sends 2 and gets 3, and so on. Receiving is a Rust
//! future that leaves the task's `luminal_waker` in the host's mailbox; the C plugin's send (through the host)
//! wakes it. Inside its task the plugin also uses `luminal::spawn` (the context of its own copy of the crate).
use luminal::ffi::{luminal_scope, luminal_status, luminal_task, luminal_waker};
use luminal::task::Builder;
use luminal::{time, Handle, Runtime, Scope};
use std::future::Future;
use std::os::raw::{c_char, c_int, c_void};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Opaque host mailbox.
#[repr(C)]
pub struct LxMailbox {
    _private: [u8; 0],
}

/// Mirror of `lx_host_api` in plugin_api.h.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct LxHostApi {
    pub struct_size: usize,
    pub runtime: *mut luminal::ffi::luminal_runtime,
    pub mailbox_send: unsafe extern "C" fn(mb: *mut LxMailbox, value: u64),
    pub mailbox_recv: unsafe extern "C" fn(mb: *mut LxMailbox, waker: *const luminal_waker, out: *mut u64) -> c_int,
}

/// The host's mailbox functions and the two mailboxes, moved into the player task.
#[derive(Clone, Copy)]
struct Link {
    api: LxHostApi,
    inbox: *mut LxMailbox,
    outbox: *mut LxMailbox,
}
// SAFETY: the host's mailbox functions are thread-safe and the mailboxes outlive the tasks.
unsafe impl Send for Link {}

impl Link {
    fn send(&self, v: u64) {
        unsafe { (self.api.mailbox_send)(self.outbox, v) }
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
        if unsafe { (self.link.api.mailbox_recv)(self.link.inbox, waker, &mut v) } != 0 {
            Poll::Ready(v)
        } else {
            Poll::Pending
        }
    }
}

async fn player(link: Link, rounds: u64) -> usize {
    let mut checksum = 0u64;
    for i in 0..rounds {
        // Nested spawn through this plugin's own copy of the crate: onto the current worker's queue.
        let to_send = luminal::spawn(async move { 2 * i }).await.expect("nested task failed");
        link.send(to_send);
        let answer = link.recv().await;
        assert_eq!(answer, to_send + 1, "the C plugin answers n + 1");
        checksum += answer;
    }
    checksum as usize
}

/// The plugin's name.
#[no_mangle]
pub extern "C" fn lx_plugin_name() -> *const c_char {
    c"rust_plugin".as_ptr()
}

/// The address of `luminal_spawn` in the libluminal this plugin's copy of the crate uses (NULL if it cannot load
/// one). The host compares it with its own: a process has one instance of the library, and the plugin's copy of
/// the crate must find the host's (see `luminal::library`).
#[no_mangle]
pub extern "C" fn lx_plugin_luminal_spawn_address() -> *const c_void {
    luminal::library::functions().map_or(std::ptr::null(), |f| f.luminal_spawn as *const c_void)
}

/// The host's runtime and the plugin's scope, borrowed from the host.
///
/// # Safety
/// `host` must be NULL or point to a valid `lx_host_api`.
unsafe fn enter(host: *const LxHostApi, scope: *mut luminal_scope) -> Result<(LxHostApi, Scope), luminal_status> {
    if host.is_null() || (*host).struct_size < std::mem::size_of::<LxHostApi>() {
        return Err(luminal::ffi::LUMINAL_E_INVALID_ARGUMENT);
    }
    let api = *host;
    let rt = Runtime::clone_from_raw(api.runtime).ok_or(luminal::ffi::LUMINAL_E_INVALID_HANDLE)?;
    let scope = Scope::from_borrowed_raw(&rt, scope).ok_or(luminal::ffi::LUMINAL_E_INVALID_ARGUMENT)?;
    Ok((api, scope))
}

/// Spawns the player into the plugin's scope; see `lx_plugin_start_fn` in plugin_api.h.
///
/// # Safety
/// `host` must point to a valid `lx_host_api`; the mailboxes must outlive the task.
#[no_mangle]
pub unsafe extern "C" fn lx_plugin_start(
    host: *const LxHostApi,
    scope: *mut luminal_scope,
    inbox: *mut LxMailbox,
    outbox: *mut LxMailbox,
    rounds: u64,
    out: *mut *mut luminal_task,
) -> luminal_status {
    if out.is_null() {
        return luminal::ffi::LUMINAL_E_INVALID_ARGUMENT;
    }
    let (api, scope) = match enter(host, scope) {
        Ok(v) => v,
        Err(s) => return s,
    };
    let link = Link { api, inbox, outbox };
    match Builder::new().scope(&scope).spawn_raw_on(scope.runtime(), player(link, rounds)) {
        Ok(task) => {
            *out = task.into_raw();
            luminal::ffi::LUMINAL_OK
        }
        Err(e) => e.status(),
    }
}

/// Spawns `count` background tasks into the plugin's scope that stay pending; see `lx_plugin_park_fn`. The first
/// waits on `mailbox`; the others sleep for an hour on the runtime's timers (`luminal::time::sleep`, with the
/// context of this plugin's own copy of the crate).
///
/// # Safety
/// `host` must point to a valid `lx_host_api`; the mailbox must outlive the tasks.
#[no_mangle]
pub unsafe extern "C" fn lx_plugin_park(
    host: *const LxHostApi,
    scope: *mut luminal_scope,
    mailbox: *mut LxMailbox,
    count: u32,
) -> luminal_status {
    let (api, scope) = match enter(host, scope) {
        Ok(v) => v,
        Err(s) => return s,
    };
    for i in 0..count {
        let link = Link { api, inbox: mailbox, outbox: mailbox };
        // Detached (the JoinHandle is dropped): closing the scope is what ends them.
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
