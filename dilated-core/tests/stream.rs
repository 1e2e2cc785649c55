//! Streaming inference for causal stacks: frame by frame and chunk by chunk, the stream
//! gives what `Network::forward` gives on the whole signal; non-streamable stacks and bad
//! pushes are typed errors.

use dilated_core::conv::Conv;
use dilated_core::conv::conv_reference;
use dilated_core::engine::Network;
use dilated_core::stream::{BufferInfo, CausalStream, ENGINE_MIN_FRAMES, StreamError};
use dilated_core::{Activation, ConvDesc, Error};
use proptest::prelude::*;

/// One layer of a random causal stack.
#[derive(Debug, Clone)]
struct ModuleSpec {
    kernel: usize,
    rate: usize,
    out_channels: usize,
    /// Index into the divisors of gcd(C_in, C_out) used as the group count.
    group_pick: usize,
    bias: bool,
    activation: Activation,
}

fn activation() -> impl Strategy<Value = Activation> {
    prop_oneof![
        Just(Activation::Identity),
        Just(Activation::Relu),
        (0.0f32..1.0).prop_map(Activation::LeakyRelu),
        Just(Activation::Tanh),
        Just(Activation::Sigmoid),
        Just(Activation::Gelu),
        Just(Activation::Silu),
    ]
}

fn layer_spec() -> impl Strategy<Value = ModuleSpec> {
    (
        1usize..=4,
        1usize..=8,
        1usize..=6,
        0usize..4,
        any::<bool>(),
        activation(),
    )
        .prop_map(
            |(kernel, rate, out_channels, group_pick, bias, activation)| ModuleSpec {
                kernel,
                rate,
                out_channels,
                group_pick,
                bias,
                activation,
            },
        )
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Deterministic pseudo-random values in [−1, 1) (xorshift), so a failing case shrinks on
/// the shapes while the data stays reproducible from its seed.
fn values(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn build_stack(in_channels: usize, specs: &[ModuleSpec], seed: u64) -> Vec<Conv> {
    let mut cin = in_channels;
    let mut layers = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let g = gcd(cin, s.out_channels);
        let divisors: Vec<usize> = (1..=g).filter(|&d| g.is_multiple_of(d)).collect();
        let mut desc = ConvDesc::causal_1d(cin, s.out_channels, s.kernel, s.rate);
        desc.groups = divisors[s.group_pick % divisors.len()];
        desc.bias = s.bias;
        desc.activation = s.activation;
        let n = desc.weight_len().unwrap();
        let weight = values(seed.wrapping_add(i as u64 * 7919), n);
        let bias = s
            .bias
            .then(|| values(seed ^ (i as u64 + 1) << 32, s.out_channels));
        layers.push(Conv::new(desc, weight, bias).unwrap());
        cin = s.out_channels;
    }
    layers
}

/// An upper bound of the magnitude of every sum the stack accumulates, per output value:
/// the stack run on `|x|` with `|w|`, `|b|` and each activation replaced by a bound of its
/// size (`|f(x)| ≤ max(1, slope)·|x|`, sigmoid ≤ 1). Rounding errors in an f32 dot product
/// are relative to this, not to the (possibly cancelled) result.
fn magnitude(layers: &[Conv], len: usize, signal: &[f32]) -> Vec<f32> {
    let mut x: Vec<f32> = signal.iter().map(|v| v.abs()).collect();
    for layer in layers {
        let mut desc = *layer.desc();
        desc.activation = Activation::Identity;
        let w: Vec<f32> = layer.weight().iter().map(|v| v.abs()).collect();
        let b: Option<Vec<f32>> = layer.bias().map(|b| b.iter().map(|v| v.abs()).collect());
        let mut y = vec![0.0; desc.out_channels * len];
        conv_reference(&desc, 1, [1, len], &x, &w, b.as_deref(), &mut y).unwrap();
        let act = layer.desc().activation;
        for v in &mut y {
            *v = match act {
                Activation::Sigmoid => 1.0,
                Activation::LeakyRelu(slope) => v.max(slope.abs() * *v),
                _ => *v,
            };
        }
        x = y;
    }
    x
}

/// How a piece of the signal is pushed.
#[derive(Debug, Clone, Copy)]
enum Piece {
    Frames(usize),
    ChannelsMajor(usize),
    TimeMajor(usize),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        (1usize..=5).prop_map(Piece::Frames),
        (0usize..=40).prop_map(Piece::ChannelsMajor),
        (0usize..=40).prop_map(Piece::TimeMajor),
    ]
}

/// Streams the channels-major `[C_in, len]` signal in the given pieces (cycling through
/// them until the signal ends) and returns the channels-major `[C_out, len]` output.
fn stream_signal(
    stream: &mut CausalStream,
    signal: &[f32],
    len: usize,
    pieces: &[Piece],
) -> Vec<f32> {
    let (cin, cout) = (stream.in_channels(), stream.out_channels());
    let mut out = vec![f32::NAN; cout * len];
    let mut t0 = 0;
    let mut i = 0;
    let mut cycle_start = 0;
    while t0 < len {
        let mut p = pieces[i % pieces.len()];
        if i % pieces.len() == 0 {
            // A whole cycle of empty chunks would never end: push a frame instead.
            if i > 0 && t0 == cycle_start {
                p = Piece::Frames(1);
            }
            cycle_start = t0;
        }
        i += 1;
        match p {
            Piece::Frames(n) => {
                for t in t0..(t0 + n).min(len) {
                    let frame: Vec<f32> = (0..cin).map(|c| signal[c * len + t]).collect();
                    let y = stream.push(&frame).unwrap();
                    assert_eq!(y.len(), cout);
                    for (c, v) in y.iter().enumerate() {
                        out[c * len + t] = *v;
                    }
                }
                t0 = (t0 + n).min(len);
            }
            Piece::ChannelsMajor(n) => {
                let n = n.min(len - t0);
                let chunk: Vec<f32> = (0..cin)
                    .flat_map(|c| signal[c * len + t0..c * len + t0 + n].iter().copied())
                    .collect();
                let mut y = vec![f32::NAN; cout * n];
                assert_eq!(stream.push_chunk(&chunk, &mut y).unwrap(), n);
                for c in 0..cout {
                    out[c * len + t0..c * len + t0 + n].copy_from_slice(&y[c * n..(c + 1) * n]);
                }
                t0 += n;
            }
            Piece::TimeMajor(n) => {
                let n = n.min(len - t0);
                let chunk: Vec<f32> = (t0..t0 + n)
                    .flat_map(|t| (0..cin).map(move |c| signal[c * len + t]))
                    .collect();
                let mut y = vec![f32::NAN; cout * n];
                assert_eq!(stream.push_chunk_time_major(&chunk, &mut y).unwrap(), n);
                for (dt, frame) in y.chunks_exact(cout).enumerate() {
                    for (c, v) in frame.iter().enumerate() {
                        out[c * len + t0 + dt] = *v;
                    }
                }
                t0 += n;
            }
        }
    }
    out
}

/// Streaming output and whole-signal output agree within 1e-5 of the accumulated
/// magnitude (both exact zero-padding semantics; only the summation order differs).
fn assert_close(streamed: &[f32], whole: &[f32], mag: &[f32]) -> Result<(), TestCaseError> {
    prop_assert_eq!(streamed.len(), whole.len());
    for (i, ((s, w), m)) in streamed.iter().zip(whole).zip(mag).enumerate() {
        let tol = 1e-5 * m.max(f32::MIN_POSITIVE);
        prop_assert!(
            (s - w).abs() <= tol,
            "output {}: streamed {} vs whole {} (magnitude {}, tolerance {})",
            i,
            s,
            w,
            m,
            tol
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, max_shrink_iters: 512, ..ProptestConfig::default() })]

    #[test]
    fn streaming_equals_whole_signal(
        in_channels in 1usize..=6,
        specs in prop::collection::vec(layer_spec(), 1..=4),
        len in 1usize..=120,
        pieces in prop::collection::vec(piece(), 1..=6),
        seed in any::<u64>(),
    ) {
        let layers = build_stack(in_channels, &specs, seed);
        let net = Network::new(layers.clone()).unwrap();
        let signal = values(seed.rotate_left(17), in_channels * len);
        let (whole, hw) = net.forward(1, [1, len], &signal).unwrap();
        prop_assert_eq!(hw, [1, len]);
        let mag = magnitude(&layers, len, &signal);

        let mut stream = CausalStream::new(&net).unwrap();
        let streamed = stream_signal(&mut stream, &signal, len, &pieces);
        assert_close(&streamed, &whole, &mag)?;
        prop_assert_eq!(stream.frames_seen(), len as u64);

        // After a reset the stream starts a new signal from the zero state.
        stream.reset();
        prop_assert_eq!(stream.frames_seen(), 0);
        let again = stream_signal(&mut stream, &signal, len, &[Piece::Frames(1)]);
        assert_close(&again, &whole, &mag)?;

        // The buffers are the receptive-field arithmetic.
        let rf = 1 + specs.iter().map(|s| s.rate * (s.kernel - 1)).sum::<usize>();
        prop_assert_eq!(stream.receptive_field(), rf);
        let mut cin = in_channels;
        let mut history = 0;
        for (b, s) in stream.buffers().zip(&specs) {
            prop_assert_eq!(b.frames, s.rate * (s.kernel - 1));
            prop_assert_eq!(b.channels, cin);
            history += b.len();
            cin = s.out_channels;
        }
        prop_assert_eq!(stream.history_len(), history);
    }
}

fn single(desc: ConvDesc, seed: u64) -> Conv {
    let w = values(seed, desc.weight_len().unwrap());
    let b = desc.bias.then(|| values(seed + 1, desc.out_channels));
    Conv::new(desc, w, b).unwrap()
}

/// A TCN-sized stack (kernel 3, rates 1, 2, 4, …, 64, 16 channels) over a signal many
/// times its receptive field: every ring buffer wraps around many times.
#[test]
fn long_signal_through_deep_stack() {
    let mut layers = Vec::new();
    let mut cin = 2;
    for (i, rate) in [1, 2, 4, 8, 16, 32, 64].into_iter().enumerate() {
        let mut d = ConvDesc::causal_1d(cin, 16, 3, rate);
        d.activation = if i % 2 == 0 {
            Activation::Tanh
        } else {
            Activation::Relu
        };
        layers.push(single(d, 100 + i as u64));
        cin = 16;
    }
    layers.push(single(ConvDesc::causal_1d(16, 1, 1, 1), 7));
    let net = Network::new(layers.clone()).unwrap();
    let len = 2000;
    let signal = values(42, 2 * len);
    let (whole, _) = net.forward(1, [1, len], &signal).unwrap();
    let mag = magnitude(&layers, len, &signal);
    let mut stream = CausalStream::new(&net).unwrap();
    assert_eq!(stream.receptive_field(), 1 + 2 * 127);
    let streamed = stream_signal(
        &mut stream,
        &signal,
        len,
        &[
            Piece::Frames(3),
            Piece::ChannelsMajor(97),
            Piece::TimeMajor(256),
        ],
    );
    for (t, ((s, w), m)) in streamed.iter().zip(&whole).zip(&mag).enumerate() {
        assert!(
            (s - w).abs() <= 1e-5 * m,
            "t = {t}: {s} vs {w} (magnitude {m})"
        );
    }
}

/// The receptive field is what the stack really sees: an impulse at frame 0 through a
/// stack of positive weights reaches exactly frames 0 ..= rf − 1 of the output.
#[test]
fn impulse_response_spans_the_receptive_field() {
    let specs = [(2, 1), (3, 2), (1, 1), (4, 3)];
    let layers: Vec<Conv> = specs
        .iter()
        .map(|&(k, d)| {
            let mut desc = ConvDesc::causal_1d(1, 1, k, d);
            desc.bias = false;
            Conv::new(desc, vec![1.0; k], None).unwrap()
        })
        .collect();
    let mut stream = CausalStream::from_layers(&layers).unwrap();
    let rf = stream.receptive_field();
    // (k − 1)·d per layer: 1·1 + 2·2 + 0·1 + 3·3.
    assert_eq!(rf, 15);
    let response: Vec<f32> = (0..rf + 10)
        .map(|t| stream.push(&[if t == 0 { 1.0 } else { 0.0 }]).unwrap()[0])
        .collect();
    let reached: Vec<usize> = (0..response.len())
        .filter(|&t| response[t] != 0.0)
        .collect();
    assert_eq!(reached, (0..rf).collect::<Vec<_>>());
    assert_eq!(stream.latency(), 0);
    // The counts are the number of paths: the product of the kernels at the middle.
    assert_eq!(response.iter().sum::<f32>(), (2 * 3 * 4) as f32);
}

#[test]
fn buffers_and_memory_are_reported() {
    let layers = vec![
        single(ConvDesc::causal_1d(3, 5, 3, 2), 1),
        single(ConvDesc::causal_1d(5, 4, 2, 8), 2),
        single(ConvDesc::causal_1d(4, 1, 1, 5), 3),
    ];
    let stream = CausalStream::from_layers(&layers).unwrap();
    let buffers: Vec<BufferInfo> = stream.buffers().collect();
    assert_eq!(
        buffers,
        [
            BufferInfo {
                layer: 0,
                kernel: 3,
                dilation: 2,
                channels: 3,
                frames: 4
            },
            BufferInfo {
                layer: 1,
                kernel: 2,
                dilation: 8,
                channels: 5,
                frames: 8
            },
            BufferInfo {
                layer: 2,
                kernel: 1,
                dilation: 5,
                channels: 4,
                frames: 0
            },
        ]
    );
    assert!(buffers[2].is_empty());
    assert_eq!(stream.history_len(), 3 * 4 + 5 * 8);
    // history + outputs (5 + 4 + 1) + scratch frame (3) + weights + biases.
    let weights = 5 * 3 * 3 + 4 * 5 * 2 + 4 + (5 + 4 + 1);
    assert_eq!(stream.memory_bytes(), 4 * (52 + 10 + 3 + weights));
    assert_eq!((stream.in_channels(), stream.out_channels()), (3, 1));
    assert_eq!(stream.output(), [0.0]);
}

#[test]
fn non_causal_layers_are_refused() {
    let ok = single(ConvDesc::causal_1d(2, 2, 3, 2), 1);
    // `same` padding: reads the future.
    let mut same = ConvDesc::causal_1d(2, 2, 3, 2);
    same.padding = [[0, 0], [2, 2]];
    // Right padding only (anti-causal) and a left padding that shifts the output.
    let mut right = ConvDesc::causal_1d(2, 2, 3, 2);
    right.padding = [[0, 0], [4, 1]];
    let mut shifted = ConvDesc::causal_1d(2, 2, 3, 2);
    shifted.padding = [[0, 0], [6, 0]];
    let mut unpadded = ConvDesc::causal_1d(2, 2, 3, 2);
    unpadded.padding = [[0, 0], [0, 0]];
    for (desc, left, right) in [
        (same, 2, 2),
        (right, 4, 1),
        (shifted, 6, 0),
        (unpadded, 0, 0),
    ] {
        let err = CausalStream::from_layers(&[ok.clone(), single(desc, 2)]).unwrap_err();
        assert_eq!(
            err,
            StreamError::NotCausal {
                layer: 1,
                left,
                right,
                expected_left: 4
            }
        );
        assert!(err.to_string().contains("not causal"), "{err}");
    }
}

#[test]
fn strided_layers_are_refused() {
    let mut strided = ConvDesc::causal_1d(1, 1, 3, 1);
    strided.stride = [1, 2];
    let err = CausalStream::from_layers(&[single(strided, 1)]).unwrap_err();
    assert_eq!(
        err,
        StreamError::Stride {
            layer: 0,
            stride: [1, 2]
        }
    );
    assert!(err.to_string().contains("stride 1"), "{err}");
}

#[test]
fn two_dimensional_layers_are_refused() {
    let ok = single(ConvDesc::causal_1d(4, 4, 2, 1), 1);
    let conv2d = single(ConvDesc::same_2d(4, 4, 3, 2), 2);
    let err = CausalStream::new(&Network::new(vec![ok.clone(), conv2d]).unwrap()).unwrap_err();
    assert_eq!(
        err,
        StreamError::NotOneD {
            layer: 1,
            kernel: [3, 3],
            height_padding: [2, 2]
        }
    );
    assert!(err.to_string().contains("2D"), "{err}");
    // A 1-row kernel that pads the height axis is 2D too (it makes H grow).
    let mut padded_h = ConvDesc::causal_1d(4, 4, 2, 1);
    padded_h.padding[0] = [1, 1];
    let err = CausalStream::from_layers(&[single(padded_h, 3), ok]).unwrap_err();
    assert!(matches!(
        err,
        StreamError::NotOneD {
            layer: 0,
            height_padding: [1, 1],
            ..
        }
    ));
}

#[test]
fn stacks_that_do_not_chain_or_are_empty_are_refused() {
    let a = single(ConvDesc::causal_1d(2, 3, 2, 1), 1);
    let b = single(ConvDesc::causal_1d(4, 1, 2, 2), 2);
    assert_eq!(
        CausalStream::from_layers(&[a, b]).unwrap_err(),
        StreamError::Engine(Error::Chain {
            layer: 1,
            expected: 4,
            actual: 3
        })
    );
    assert_eq!(
        CausalStream::from_layers(&[]).unwrap_err(),
        StreamError::Engine(Error::Zero {
            what: "layer count"
        })
    );
}

#[test]
fn bad_pushes_are_typed_errors_and_leave_the_state_alone() {
    let layers = vec![single(ConvDesc::causal_1d(3, 2, 3, 2), 9)];
    let mut stream = CausalStream::from_layers(&layers).unwrap();
    let mut fresh = stream.clone();
    stream.push(&[0.5, -0.25, 1.0]).unwrap();
    fresh.push(&[0.5, -0.25, 1.0]).unwrap();

    assert_eq!(
        stream.push(&[1.0, 2.0]).unwrap_err(),
        StreamError::FrameLength {
            expected: 3,
            actual: 2
        }
    );
    assert_eq!(
        stream.push(&[]).unwrap_err(),
        StreamError::FrameLength {
            expected: 3,
            actual: 0
        }
    );
    let mut y = [0.0; 4];
    assert_eq!(
        stream.push_chunk(&[0.0; 7], &mut y).unwrap_err(),
        StreamError::ChunkLength {
            channels: 3,
            actual: 7
        }
    );
    assert_eq!(
        stream
            .push_chunk_time_major(&[0.0; 6], &mut y[..3])
            .unwrap_err(),
        StreamError::OutputLength {
            frames: 2,
            channels: 2,
            expected: 4,
            actual: 3
        }
    );
    assert_eq!(
        stream.push_chunk(&[0.0; 6], &mut [0.0; 5]).unwrap_err(),
        StreamError::OutputLength {
            frames: 2,
            channels: 2,
            expected: 4,
            actual: 5
        }
    );
    // An empty chunk is zero frames, not an error.
    assert_eq!(stream.push_chunk(&[], &mut []).unwrap(), 0);
    assert_eq!(stream.frames_seen(), 1);

    // The refused pushes did not advance the signal.
    let next = [0.1, 0.2, 0.3];
    assert_eq!(stream.push(&next).unwrap(), fresh.push(&next).unwrap());
}

/// The runtime stacks that `dilated_stack!` generates stream through their network, with
/// PyTorch's default initialisation.
#[test]
fn generated_style_stack_streams() {
    use dilated_core::conv::Rank;
    use dilated_core::stack::{ModuleSpec, Stack};
    let mut specs = Vec::new();
    let mut cin = 4;
    for (i, rate) in [1, 2, 4, 8].into_iter().enumerate() {
        let mut d = ConvDesc::causal_1d(cin, 8, 2, rate);
        d.activation = Activation::Relu;
        specs.push(ModuleSpec::new(2 * i, Rank::One, d));
        cin = 8;
    }
    let stack = Stack::init(&specs, 11).unwrap();
    let net = stack.network();
    let mut stream = CausalStream::new(net).unwrap();
    assert_eq!(stream.receptive_field(), 16);
    let len = 40;
    let signal = values(3, 4 * len);
    let (whole, _) = net.forward(1, [1, len], &signal).unwrap();
    let mag = magnitude(net.layers(), len, &signal);
    let streamed = stream_signal(&mut stream, &signal, len, &[Piece::TimeMajor(7)]);
    for ((s, w), m) in streamed.iter().zip(&whole).zip(&mag) {
        assert!((s - w).abs() <= 1e-5 * m, "{s} vs {w}");
    }
}

/// `reserve_chunk` for more frames than memory holds is an error, not an abort, and the
/// stream still runs afterwards.
#[test]
fn reserving_an_impossible_chunk_is_an_error() {
    let layer = single(ConvDesc::causal_1d(2, 3, 2, 4), 5);
    let net = Network::new(vec![layer]).unwrap();
    let mut stream = CausalStream::new(&net).unwrap();
    // Overflows the size arithmetic; then more bytes than an allocation may have (refused
    // before the allocator is asked, so this also holds under AddressSanitizer).
    assert!(stream.reserve_chunk(usize::MAX / 2).is_err());
    assert!(stream.reserve_chunk(1 << 61).is_err());
    stream.reserve_chunk(32).unwrap();
    let x: Vec<f32> = (0..2 * 32).map(|i| i as f32 * 0.01).collect();
    let mut y = vec![0.0; 3 * 32];
    assert_eq!(stream.push_chunk(&x, &mut y).unwrap(), 32);
    let (whole, _) = net.forward(1, [1, 32], &x).unwrap();
    for (a, b) in y.iter().zip(&whole) {
        assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
    }
}

/// `with_engine_min_frames`: `usize::MAX` keeps every chunk on the frame path (the same
/// bits as pushing its frames one by one), 1 sends every chunk through the engine (the
/// whole signal's values, up to rounding); 0 is taken as 1.
#[test]
fn the_engine_threshold_picks_the_path() {
    let (cin, cout, len) = (3, 4, 40);
    let mut first = ConvDesc::causal_1d(cin, 5, 3, 2);
    first.activation = Activation::Tanh;
    let layers = vec![
        single(first, 21),
        single(ConvDesc::causal_1d(5, cout, 2, 8), 22),
    ];
    let net = Network::new(layers).unwrap();
    let x = values(23, cin * len);
    let (whole, _) = net.forward(1, [1, len], &x).unwrap();

    let mut by_frame = CausalStream::new(&net).unwrap();
    let mut framed = vec![0.0; cout * len];
    for t in 0..len {
        let frame: Vec<f32> = (0..cin).map(|c| x[c * len + t]).collect();
        for (c, &v) in by_frame.push(&frame).unwrap().iter().enumerate() {
            framed[c * len + t] = v;
        }
    }
    let mut never = CausalStream::new(&net)
        .unwrap()
        .with_engine_min_frames(usize::MAX);
    let mut y = vec![0.0; cout * len];
    never.push_chunk(&x, &mut y).unwrap();
    assert_eq!(
        y, framed,
        "the frame path, chunked or not, gives the same bits"
    );

    let mut always = CausalStream::new(&net).unwrap().with_engine_min_frames(1);
    assert_eq!(always.engine_min_frames(), 1);
    // Two chunks, both through the engine, the second continuing the first's history.
    let mut out = vec![0.0; cout * len];
    for (t0, n) in [(0, 3), (3, len - 3)] {
        let part: Vec<f32> = (0..cin)
            .flat_map(|c| x[c * len + t0..c * len + t0 + n].to_vec())
            .collect();
        let mut y = vec![0.0; cout * n];
        always.push_chunk(&part, &mut y).unwrap();
        for c in 0..cout {
            out[c * len + t0..c * len + t0 + n].copy_from_slice(&y[c * n..(c + 1) * n]);
        }
    }
    for (i, (a, w)) in out.iter().zip(&whole).enumerate() {
        assert!((a - w).abs() <= 1e-5 * (1.0 + w.abs()), "{i}: {a} vs {w}");
    }
    let zero = CausalStream::new(&net).unwrap().with_engine_min_frames(0);
    assert_eq!(zero.engine_min_frames(), 1);
    assert_eq!(
        CausalStream::new(&net).unwrap().engine_min_frames(),
        ENGINE_MIN_FRAMES
    );
}
