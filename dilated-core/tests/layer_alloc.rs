//! `forward_into` with a warmed-up workspace allocates nothing, on every kernel family, and
//! the typed shells add nothing to the engine: a counting global allocator watches the
//! second call (one thread, so no thread pool is involved).
//!
//! The counter is process-wide, so this file holds a single test.

use dilated_core::conv::{Conv, Rank};
use dilated_core::engine::{Kernel, Network, Workspace};
use dilated_core::stack::{Conv1d, Conv2d, ModuleSpec, Pad1d, Pad2d, TypedStack};
use dilated_core::tensor::{Tensor1d, Tensor2d};
use dilated_core::{Activation, ConvDesc};

mod support;
use support::counting::allocations_during;

type L0 = Conv2d<3, 8, 3, 3, 1, 1, 1, 1, 1, Pad2d<1, 1, 1, 1>>;
type L1 = Conv2d<8, 8, 3, 3, 2, 2, 1, 1, 1, Pad2d<2, 2, 2, 2>>;
type L2 = Conv2d<8, 4, 3, 3, 5, 5, 1, 1, 1, Pad2d<5, 5, 5, 5>>;
const LAYERS: [ModuleSpec; 3] = [
    ModuleSpec::new(0, Rank::Two, L0::descriptor(true, Activation::Relu)),
    ModuleSpec::new(2, Rank::Two, L1::descriptor(true, Activation::Relu)),
    ModuleSpec::new(4, Rank::Two, L2::descriptor(true, Activation::Identity)),
];

#[test]
fn shells_add_no_allocation_to_forward_into() {
    // Start rayon's global pool and wait until every worker has run: building a network
    // may start it, and its workers start (and allocate) asynchronously, inside a count.
    rayon::broadcast(|_| ());
    for kernel in Kernel::ALL.into_iter().filter(|k| k.is_available()) {
        let stack: TypedStack<Tensor2d<3, 24, 20>, Tensor2d<4, 24, 20>> =
            TypedStack::init(&LAYERS, 1)
                .and_then(|s| s.with_threads(1))
                .and_then(|s| s.with_kernel(kernel))
                .unwrap();
        let x = Tensor2d::<3, 24, 20>::from_vec(2, [24, 20], vec![0.25; 2 * 3 * 24 * 20]).unwrap();
        let mut y = Tensor2d::<4, 24, 20>::zeros(2, [24, 20]).unwrap();
        let mut ws = Workspace::new();
        stack.forward_into(&x, &mut y, &mut ws).unwrap();
        let shell = allocations_during(|| stack.forward_into(&x, &mut y, &mut ws).unwrap());
        let net = stack.stack().network();
        let mut out = vec![0.0; y.as_slice().len()];
        let engine = allocations_during(|| {
            net.forward_into(2, [24, 20], x.as_slice(), &mut out, &mut ws)
                .unwrap();
        });
        assert_eq!(out, y.as_slice());
        assert_eq!(shell, engine, "{kernel:?}: the stack shell allocated");
        assert_eq!(
            engine, 0,
            "{kernel:?}: forward_into allocated {engine} times"
        );

        let conv = Conv1d::<2, 2, 2, 4, 1, 1, Pad1d<4, 0>>::init(0, true, Activation::Gelu)
            .and_then(|c| c.with_threads(1))
            .and_then(|c| c.with_kernel(kernel))
            .unwrap();
        let s = Tensor1d::<2, 64>::from_vec(1, 64, vec![0.5; 128]).unwrap();
        let mut o = Tensor1d::<2, 64>::zeros(1, 64).unwrap();
        conv.forward_into(&s, &mut o, &mut ws).unwrap();
        let shell = allocations_during(|| conv.forward_into(&s, &mut o, &mut ws).unwrap());
        let mut out = vec![0.0; 128];
        let engine = allocations_during(|| {
            conv.network()
                .unwrap()
                .forward_into(1, [1, 64], s.as_slice(), &mut out, &mut ws)
                .unwrap();
        });
        assert_eq!(out, o.as_slice());
        assert_eq!(shell, engine, "{kernel:?}: the layer shell allocated");
        assert_eq!(
            engine, 0,
            "{kernel:?}: a layer's forward_into allocated {engine} times"
        );

        // A wide 3 × 3 layer: channel-blocked, on Winograd F(2 × 2, 3 × 3) where the
        // family holds its filters, its transformed tiles in the workspace.
        let d = ConvDesc::same_2d(256, 20, 3, 2);
        let w: Vec<f32> = (0..d.weight_len().unwrap())
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 64.0)
            .collect();
        let wide =
            Network::new_with_kernel(vec![Conv::new(d, w, Some(vec![0.1; 20])).unwrap()], kernel)
                .and_then(|n| n.with_threads(1))
                .unwrap();
        let x = vec![0.5; 2 * 256 * 14 * 15];
        let mut out = vec![0.0; 2 * 20 * 14 * 15];
        wide.forward_into(2, [14, 15], &x, &mut out, &mut ws)
            .unwrap();
        let first = out.clone();
        let engine = allocations_during(|| {
            wide.forward_into(2, [14, 15], &x, &mut out, &mut ws)
                .unwrap();
        });
        assert_eq!(out, first);
        assert_eq!(
            engine, 0,
            "{kernel:?}: a wide layer's forward_into allocated {engine} times"
        );
    }
}
