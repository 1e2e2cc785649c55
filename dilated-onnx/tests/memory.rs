//! The memory and time bound of reading a model (issue 14): at most 4 × the file's size
//! plus 64 MiB (`MEMORY_PER_FILE_BYTE`, `MEMORY_FIXED_BYTES`) and a second or two,
//! measured with a counting allocator on the largest hostile files, on valid graphs as
//! large as the bound admits, and on real models. One test function, so nothing else
//! allocates while it measures.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use dilated_onnx::{MAX_NODES, MEMORY_FIXED_BYTES, MEMORY_PER_FILE_BYTE, parse};

/// The system allocator, counting the bytes live and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn add(n: usize) {
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments, so `System`'s
// guarantees hold; the counters are atomics and never affect the allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, forwarded as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through `alloc`) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract, forwarded as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            add(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Writes `bytes` as `<dir>/<what>.onnx` when `DILATED_HOSTILE_DUMP=<dir>` is set, so the
/// peak resident size of `dilated check` on the same files can be measured by hand
/// (docs/limits.md). Does nothing otherwise.
fn dump(bytes: &[u8], what: &str) {
    if let Some(dir) = std::env::var_os("DILATED_HOSTILE_DUMP") {
        let name: String = what
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let path = std::path::Path::new(&dir).join(format!("{name}.onnx"));
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// Parses `bytes` and returns (peak bytes used, counting the file's buffer, and the time).
fn measure(bytes: Vec<u8>, ok: bool, what: &str) -> (usize, Duration) {
    dump(&bytes, what);
    let len = bytes.len();
    let base = LIVE.load(Ordering::Relaxed) - len;
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    let t = Instant::now();
    let r = parse(bytes);
    let elapsed = t.elapsed();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    assert_eq!(r.is_ok(), ok, "{what}: {:?}", r.err());
    drop(r);
    let bound = MEMORY_PER_FILE_BYTE as usize * len + MEMORY_FIXED_BYTES as usize;
    eprintln!("{what}: file {len} B, peak {peak} B (bound {bound} B), {elapsed:?}");
    assert!(
        peak <= bound,
        "{what}: peak {peak} B over the bound {bound} B (file {len} B)"
    );
    // Refusals come within two seconds; valid graphs of tens of thousands of nodes take
    // about half a second on an idle machine (the bound leaves room for a loaded one).
    let limit = Duration::from_secs(if ok { 5 } else { 2 });
    assert!(elapsed < limit, "{what}: {elapsed:?}");
    (peak, elapsed)
}

fn empty_nodes(n: usize) -> Vec<u8> {
    let mut g = Vec::with_capacity(2 * n);
    for _ in 0..n {
        g.extend_from_slice(&[0x0a, 0x00]);
    }
    Pb::new().bytes(7, &g).0
}

/// `n` Concat nodes each joining two 32,768-element constants: the folder's budget stops
/// them, not the memory.
fn fold_bomb(n: usize) -> Vec<u8> {
    let big = tensor_i64("c", &[32_768], &vec![7; 32_768]);
    let nodes: Vec<Pb> = (0..n)
        .map(|i| {
            node(
                "Concat",
                &format!("k{i}"),
                &["c", "c"],
                &[&format!("o{i}")],
                &[attr_int("axis", 0)],
            )
        })
        .collect();
    model(&graph(&nodes, &[big], &[], &[]))
}

/// ConstantOfShape splats of 2^39 elements each, `n` times.
fn splat_bomb(n: usize) -> Vec<u8> {
    let shape = tensor_i64("s", &[3], &[1 << 13, 1 << 13, 1 << 13]);
    let nodes: Vec<Pb> = (0..n)
        .map(|i| {
            node(
                "ConstantOfShape",
                &format!("z{i}"),
                &["s"],
                &[&format!("w{i}")],
                &[attr_tensor("value", &tensor_f32("", &[1], &[0.5]))],
            )
        })
        .collect();
    model(&graph(&nodes, &[shape], &[], &[]))
}

#[test]
fn reading_stays_within_the_memory_and_time_bound() {
    // Valid graphs, as large as the bound lets them be.
    measure(relu_chain(10_000), true, "a chain of 10,000 nodes");
    // (The bound also covers the coverage analysis `dilated check` runs after reading, so
    // the largest chains it admits are about 35,000 nodes.)
    measure(
        relu_chain(35_000),
        true,
        "a chain of 35,000 nodes with short names",
    );
    measure(
        relu_chain_exporter_names(35_000),
        true,
        "a chain of 35,000 nodes with exporter names",
    );
    let long = relu_chain_exporter_names(60_000);
    dump(&long, "a chain of 60,000 nodes with exporter names");
    let e = parse(long).unwrap_err();
    assert!(matches!(e, dilated_onnx::Error::Limit { .. }), "{e}");
    // Past the bound: refused before decoding.
    let chain = relu_chain(200_000);
    dump(&chain, "a chain of 200,000 nodes");
    let e = parse(chain).unwrap_err();
    assert!(matches!(e, dilated_onnx::Error::Limit { .. }), "{e}");
    // One node past the node limit (the nodes padded with doc strings, which are skipped
    // unread, so that the memory bound has room for them).
    let doc = "d".repeat(1_000);
    let nodes: Vec<Pb> = (0..=MAX_NODES as usize)
        .map(|i| node("Relu", &format!("r{i}"), &[], &[], &[]).string(6, &doc))
        .collect();
    let big = model(&graph(&nodes, &[], &[], &[]));
    dump(&big, "one node past the node limit");
    let e = parse(big).unwrap_err();
    assert!(
        matches!(
            e,
            dilated_onnx::Error::Limit {
                what: "the number of nodes",
                ..
            }
        ),
        "{e}"
    );
    // Bombs: empty nodes, attributes, dims, strings, splats, folds.
    measure(empty_nodes(4_000_000), false, "4 million empty nodes");
    let attrs: Vec<Pb> = (0..1_000_000).map(|_| Pb::new()).collect();
    measure(
        model(&graph(
            &[node("Relu", "r", &["x"], &["y"], &attrs)],
            &[],
            &[],
            &[],
        )),
        false,
        "a million empty attributes",
    );
    let t = Pb::new().packed_i64(1, &vec![1; 20_000_000]).varint(2, 1);
    measure(
        model(&graph(&[], &[t], &[], &[])),
        false,
        "20 million one-byte dims",
    );
    let names: Vec<Pb> = (0..2_000_000).map(|_| Pb::new()).collect();
    let mut n = Pb::new();
    for _ in &names {
        n = n.string(1, "");
    }
    measure(
        model(&graph(&[n], &[], &[], &[])),
        false,
        "2 million empty input names",
    );
    measure(splat_bomb(10_000), true, "10,000 splats of 2^39 elements");
    measure(fold_bomb(10_000), true, "10,000 folds of 65,536 elements");
    // Real models.
    for f in [
        "light/light_densenet121.onnx",
        "light/light_inception_v2.onnx",
    ] {
        measure(std::fs::read(fixtures().join(f)).unwrap(), true, f);
    }
}
