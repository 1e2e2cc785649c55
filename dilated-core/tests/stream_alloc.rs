//! `CausalStream` allocates nothing after construction: a counting global allocator sees
//! no allocation during thousands of pushes and chunk pushes.
//!
//! This file holds a single test so that no other test thread allocates while it counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use dilated_core::engine::{Layer, Network};
use dilated_core::stream::CausalStream;
use dilated_core::{Activation, ConvDesc};

/// Counts every allocation and reallocation, then defers to the system allocator.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract holds exactly as it does for `System`.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: the caller upholds `alloc`'s contract (non-zero size), passed through.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: `ptr` was allocated by this allocator (i.e. by `System`) with `layout`,
        // as the caller guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`, as the caller guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn pushing_allocates_nothing_after_construction() {
    let mut layers = Vec::new();
    let mut cin = 3;
    for (i, rate) in [1, 2, 4, 8, 16].into_iter().enumerate() {
        let mut d = ConvDesc::causal_1d(cin, 8, 3, rate);
        d.activation = if i % 2 == 0 {
            Activation::Tanh
        } else {
            Activation::LeakyRelu(0.1)
        };
        if i == 3 {
            d.groups = 4;
        }
        let w = (0..d.weight_len().unwrap())
            .map(|j| ((j * 37 % 19) as f32 - 9.0) / 20.0)
            .collect();
        layers.push(Layer::new(d, w, Some(vec![0.05; 8])).unwrap());
        cin = 8;
    }
    let net = Network::new(layers).unwrap();
    let mut stream = CausalStream::new(&net).unwrap();
    let frame = [0.3f32, -0.7, 0.2];
    let chunk: Vec<f32> = (0..3 * 64).map(|i| (i as f32 * 0.1).sin()).collect();
    let mut out = vec![0.0f32; 8 * 64];
    let mut checksum = 0.0f32;

    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for _ in 0..1000 {
        checksum += stream.push(&frame).unwrap()[0];
    }
    for _ in 0..10 {
        stream.push_chunk(&chunk, &mut out).unwrap();
        checksum += out[5];
        stream.push_chunk_time_major(&chunk, &mut out).unwrap();
        checksum += out[7];
    }
    stream.reset();
    checksum += stream.push(&frame).unwrap()[1];
    let after = ALLOCATIONS.load(Ordering::SeqCst);

    assert!(checksum.is_finite());
    assert_eq!(
        after - before,
        0,
        "the stream allocated {} times",
        after - before
    );
    // The counter does see allocations (so the zero above means something).
    let v = std::hint::black_box(vec![1u8; 16]);
    assert!(ALLOCATIONS.load(Ordering::SeqCst) > after && v.len() == 16);
}
