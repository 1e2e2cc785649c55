//! A counting global allocator for the tests that measure memory: `support::counting` of
//! `layer_alloc`, `stream_alloc` and `weights_once` (`mod support;`), and included by path
//! in the root package's `test_stack` (one definition, four test crates).
//!
//! It counts every allocation and reallocation process-wide ([`allocations_during`]: use
//! it in a file with a single test, so no other test thread allocates meanwhile), and the
//! bytes live on each thread ([`retained`], and their high-water mark [`peak_during`]: safe
//! when tests run in parallel).

#![allow(dead_code)] // each including crate uses some of the measures

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

/// Allocations and reallocations, all threads.
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Bytes allocated minus bytes freed on this thread.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    /// The highest `LIVE` since it was last reset.
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

/// Adds `delta` to this thread's live bytes (and raises the peak with them).
fn live(delta: isize) {
    // `try_with`: the slots may be gone while the thread exits; then no bytes are counted.
    let _ = LIVE.try_with(|c| {
        c.set(c.get() + delta);
        let _ = PEAK.try_with(|p| p.set(p.get().max(c.get())));
    });
}

fn count(delta: isize) {
    ALLOCATIONS.fetch_add(usize::from(delta > 0), Ordering::SeqCst);
    live(delta);
}

// SAFETY: every method forwards to `System` unchanged; the counters have no effect on
// memory (an atomic, and a const-initialised thread-local `Cell` that neither allocates nor
// registers a destructor).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size().cast_signed());
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which `System` shares.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size().cast_signed());
        // SAFETY: as `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-layout.size().cast_signed());
        // SAFETY: `ptr` was allocated by `System` through this allocator with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        live(new_size.cast_signed() - layout.size().cast_signed());
        // SAFETY: forwarded unchanged; `ptr` and `layout` come from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations and reallocations (all threads) so far.
pub(crate) fn allocations() -> usize {
    ALLOCATIONS.load(Ordering::SeqCst)
}

/// The allocations and reallocations (all threads) while `f` runs.
pub(crate) fn allocations_during(f: impl FnOnce()) -> usize {
    let before = allocations();
    f();
    allocations() - before
}

/// Runs `f` and returns its value with the most bytes this thread held at once on top of
/// what it held before: the high-water mark of `f`'s allocations.
pub(crate) fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(before));
    let value = f();
    let peak = PEAK.with(Cell::get);
    (value, usize::try_from(peak - before).unwrap_or(0))
}

/// Runs `f` and returns its value with the bytes still allocated by this thread when it
/// returns: what the value holds.
pub(crate) fn retained<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.with(Cell::get);
    let value = f();
    let after = LIVE.with(Cell::get);
    (value, usize::try_from(after - before).unwrap_or(0))
}
