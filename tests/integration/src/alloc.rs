//! A counting global allocator for tests that assert how much a piece of
//! code allocates (e.g. "parsing a STUN message allocates nothing", "an idle
//! connection holds at most 64 KiB").
//!
//! Counts are per thread, so tests running in parallel do not disturb each
//! other. Install it in a test binary with
//! `#[global_allocator] static A: meshrtc_integration::alloc::Counting = meshrtc_integration::alloc::Counting;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static LIVE_BYTES: Cell<i64> = const { Cell::new(0) };
}

/// The allocator: the system allocator plus per-thread counters.
pub struct Counting;

fn bump(count: u64, bytes: i64) {
    // `try_with`: during thread teardown the counters may be gone already.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + count));
    let _ = LIVE_BYTES.try_with(|c| c.set(c.get() + bytes));
}

#[allow(unsafe_code)]
// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees are ours; the counters are
// const-initialised thread locals without destructors, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump(1, layout.size() as i64);
        // SAFETY: forwarded as given (see the impl).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump(1, layout.size() as i64);
        // SAFETY: forwarded as given (see the impl).
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        bump(0, -(layout.size() as i64));
        // SAFETY: forwarded as given (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump(1, new_size as i64 - layout.size() as i64);
        // SAFETY: forwarded as given (see the impl).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// What a closure allocated on this thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Number of allocations and reallocations.
    pub allocations: u64,
    /// Bytes still held when the closure returned (allocated minus freed).
    pub live_bytes: i64,
}

/// Runs `f` and reports what it allocated on this thread. Meaningful only
/// in a binary whose global allocator is [`Counting`].
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Usage) {
    let a0 = ALLOCATIONS.with(Cell::get);
    let b0 = LIVE_BYTES.with(Cell::get);
    let r = f();
    let usage = Usage {
        allocations: ALLOCATIONS.with(Cell::get) - a0,
        live_bytes: LIVE_BYTES.with(Cell::get) - b0,
    };
    (r, usage)
}
