//! `CausalStream` allocates nothing after construction: a counting global allocator sees
//! no allocation during thousands of pushes and chunk pushes — on one thread, as
//! `reserve_chunk` promises: on several, a chunk's layers that split into parallel units
//! enter rayon's pool from outside it, and its job queue allocates a block every 63 such
//! entries (on AVX2-only CPUs this test's chunks split; on AVX-512 they did not).
//!
//! This file holds a single test so that no other test thread allocates while it counts.

use dilated_core::conv::Conv;

use dilated_core::engine::Network;
use dilated_core::stream::CausalStream;
use dilated_core::{Activation, ConvDesc};

mod support;
use support::counting::allocations;

#[test]
fn pushing_allocates_nothing_after_construction() {
    // Start rayon's global pool and wait until every worker has run: building a network
    // may start it, and its workers start (and allocate) asynchronously, inside a count.
    rayon::broadcast(|_| ());
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
        layers.push(Conv::new(d, w, Some(vec![0.05; 8])).unwrap());
        cin = 8;
    }
    let net = Network::new(layers).unwrap().with_threads(1).unwrap();
    let mut stream = CausalStream::new(&net).unwrap();
    // Chunks of 64 frames run through the engine: its buffers grow up front.
    stream.reserve_chunk(64).unwrap();
    let frame = [0.3f32, -0.7, 0.2];
    let chunk: Vec<f32> = (0..3 * 64).map(|i| (i as f32 * 0.1).sin()).collect();
    let mut out = vec![0.0f32; 8 * 64];
    let mut checksum = 0.0f32;

    let before = allocations();
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
    let after = allocations();

    assert!(checksum.is_finite());
    assert_eq!(
        after - before,
        0,
        "the stream allocated {} times",
        after - before
    );
    // The counter does see allocations (so the zero above means something).
    let v = std::hint::black_box(vec![1u8; 16]);
    assert!(allocations() > after && v.len() == 16);
}
