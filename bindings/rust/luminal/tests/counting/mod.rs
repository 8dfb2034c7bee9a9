//! A global allocator that counts allocations and frees, for the tests that prove what the binding allocates.
//! Include it (`mod counting;`) only in a test binary of its own: the counters are process-wide, and the test
//! harness itself allocates when a sibling test finishes.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

pub static ALLOCS: AtomicUsize = AtomicUsize::new(0);
pub static FREES: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Const-initialised and without Drop: touching it never allocates nor registers a destructor.
    static THREAD_ALLOCS: Cell<usize> = const { Cell::new(0) };
}

/// Allocations made so far by the calling thread: immune to what other threads (the harness, helper threads of an
/// earlier test still winding down) allocate meanwhile.
pub fn thread_allocs() -> usize {
    THREAD_ALLOCS.with(Cell::get)
}

struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::SeqCst);
        let _ = THREAD_ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        FREES.fetch_add(1, Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;
