//! The convolution execution adapter: a model's Conv nodes as `dilated-core` layers
//! ([`dilated_core::Conv`]: descriptor, weights, bias, fused activation), through
//! `dilated-core`'s public API only.
//!
//! A 1D convolution (`[N, C, L]`) becomes a 2D one with `H = 1` and `KH = 1`, as the
//! runtime runs it; the weights keep PyTorch's (and ONNX's) layout
//! `[C_out, C_in / groups, KH, KW]`.

use dilated_core::conv::Rank;
use dilated_core::{Activation, Conv, ConvDesc};

use crate::error::{Error, Name};
use crate::graph::{Graph, NodeId, NodeKind, Pointwise, ValueId};

fn node_err(graph: &Graph, id: NodeId, reason: impl Into<String>) -> Error {
    let n = graph.node(id);
    Error::Node {
        node: Name(n.label()),
        op: Name(n.op_type.clone()),
        reason: reason.into(),
    }
}

fn size(graph: &Graph, id: NodeId, v: u64, what: &str) -> Result<usize, Error> {
    usize::try_from(v)
        .map_err(|_| node_err(graph, id, format!("{what} {v} does not fit in memory")))
}

/// The layer of Conv node `id`, with `activation` fused after it. Its weight (and bias)
/// must be constants: initializers, `Constant`s, folded chains or `ConstantOfShape`
/// splats (expanded up to [`crate::MAX_SPLAT_ELEMENTS`]).
pub fn conv_from_node(graph: &Graph, id: NodeId, activation: Activation) -> Result<Conv, Error> {
    let node = graph.node(id);
    let NodeKind::Conv(w) = &node.kind else {
        return Err(node_err(graph, id, "not a convolution"));
    };
    let s = w.kernel.len();
    if s != 1 && s != 2 {
        return Err(Error::Unsupported {
            what: format!("a {s}D convolution (node {})", Name(node.label())),
        });
    }
    let Some(pads) = &w.pads else {
        return Err(node_err(
            graph,
            id,
            "its padding depends on an input size the model leaves free",
        ));
    };
    let weight_id = node.inputs.get(1).copied().flatten();
    let Some(weight) = weight_id.and_then(|v| graph.value(v).constant.as_ref()) else {
        return Err(node_err(graph, id, "its weight is not a constant"));
    };
    let wname = &graph.value(weight_id.unwrap_or(ValueId(0))).name;
    let dims = weight.dims();
    if dims.len() != s + 2 {
        return Err(node_err(
            graph,
            id,
            format!("the weight has rank {}, expected {}", dims.len(), s + 2),
        ));
    }
    let out_c = size(graph, id, dims[0], "output channel count")?;
    let per_group = size(graph, id, dims[1], "input channel count")?;
    let group = size(graph, id, w.group, "group count")?;
    let in_c = per_group
        .checked_mul(group)
        .ok_or_else(|| node_err(graph, id, "the input channel count overflows"))?;
    let bias = match node.inputs.get(2).copied().flatten() {
        None => None,
        Some(b) => {
            let v = graph.value(b);
            let Some(t) = &v.constant else {
                return Err(node_err(graph, id, "its bias is not a constant"));
            };
            if t.dims() != [dims[0]] {
                return Err(node_err(
                    graph,
                    id,
                    format!(
                        "the bias has dimensions {:?} for {out_c} output channels",
                        t.dims()
                    ),
                ));
            }
            Some(t.to_f32(&v.name)?)
        }
    };
    let u = |v: u64, what: &str| size(graph, id, v, what);
    let (kernel, dilation, stride, padding) = if s == 1 {
        (
            [1, u(w.kernel[0], "kernel")?],
            [1, u(w.dilations[0], "dilation")?],
            [1, u(w.strides[0], "stride")?],
            [
                [0, 0],
                [u(pads[0][0], "padding")?, u(pads[0][1], "padding")?],
            ],
        )
    } else {
        (
            [u(w.kernel[0], "kernel")?, u(w.kernel[1], "kernel")?],
            [
                u(w.dilations[0], "dilation")?,
                u(w.dilations[1], "dilation")?,
            ],
            [u(w.strides[0], "stride")?, u(w.strides[1], "stride")?],
            [
                [u(pads[0][0], "padding")?, u(pads[0][1], "padding")?],
                [u(pads[1][0], "padding")?, u(pads[1][1], "padding")?],
            ],
        )
    };
    let desc = ConvDesc {
        in_channels: in_c,
        out_channels: out_c,
        groups: group,
        kernel,
        dilation,
        stride,
        padding,
        bias: bias.is_some(),
        activation,
    };
    desc.validate()?;
    let weights = weight.to_f32(wname)?;
    Ok(Conv::new(desc, weights, bias)?)
}

/// The activation a pointwise node fuses into the convolution before it, if the runtime
/// has it.
fn fusable(p: Pointwise) -> Option<Activation> {
    match p {
        Pointwise::Relu => Some(Activation::Relu),
        Pointwise::LeakyRelu(slope) => Some(Activation::LeakyRelu(slope)),
        Pointwise::Gelu(false) => Some(Activation::Gelu),
        Pointwise::Tanh => Some(Activation::Tanh),
        Pointwise::Sigmoid => Some(Activation::Sigmoid),
        Pointwise::Gelu(true)
        | Pointwise::Identity
        | Pointwise::PRelu
        | Pointwise::Clip
        | Pointwise::BatchNorm
        | Pointwise::Affine
        | Pointwise::ChannelMix
        | Pointwise::Other => None,
    }
}

/// The layers of a graph that is a plain chain from its one input to its one output:
/// convolutions, each optionally followed by an activation the runtime fuses (ReLU,
/// LeakyReLU, exact GELU, tanh, sigmoid), with `Identity` / `Dropout` passed through.
/// Returns the layers and whether the chain is 1D or 2D. Anything else is an error naming
/// the first node the chain cannot express.
pub fn conv_chain(graph: &Graph) -> Result<(Vec<Conv>, Rank), Error> {
    let [input] = graph.inputs() else {
        return Err(Error::Unsupported {
            what: format!("a chain with {} run-time inputs", graph.inputs().len()),
        });
    };
    let [output] = graph.outputs() else {
        return Err(Error::Unsupported {
            what: format!("a chain with {} outputs", graph.outputs().len()),
        });
    };
    let mut cur = *input;
    let mut plan: Vec<(NodeId, Activation)> = Vec::new();
    let mut fused = false;
    for (i, node) in graph.nodes().iter().enumerate() {
        let id = NodeId(i);
        let data: Vec<ValueId> = node.data_inputs(graph).collect();
        if data != [cur] {
            return Err(node_err(graph, id, "it does not continue a single chain"));
        }
        let Some(Some(out)) = node.outputs.first().copied() else {
            return Err(node_err(graph, id, "it has no output"));
        };
        match &node.kind {
            NodeKind::Conv(_) => {
                plan.push((id, Activation::Identity));
                fused = false;
            }
            NodeKind::Pointwise(Pointwise::Identity) => {}
            NodeKind::Pointwise(p) => match (fusable(*p), plan.last_mut()) {
                (Some(act), Some(last)) if !fused => {
                    last.1 = act;
                    fused = true;
                }
                _ => {
                    return Err(node_err(
                        graph,
                        id,
                        "a chain of convolutions fuses one ReLU, LeakyReLU, GELU, tanh or sigmoid after each convolution",
                    ));
                }
            },
            NodeKind::Pool(..)
            | NodeKind::Resize(_)
            | NodeKind::Pad(_)
            | NodeKind::Crop(_)
            | NodeKind::Merge(_)
            | NodeKind::Concat { .. }
            | NodeKind::Split { .. }
            | NodeKind::Global(_)
            | NodeKind::Head(_)
            | NodeKind::Unknown { .. } => {
                return Err(node_err(
                    graph,
                    id,
                    format!(
                        "a chain of convolutions cannot express a {} node",
                        node.kind.name()
                    ),
                ));
            }
        }
        cur = out;
    }
    if cur != *output {
        return Err(Error::Unsupported {
            what: "a chain whose last node is not the graph's output".into(),
        });
    }
    let Some(&(first, _)) = plan.first() else {
        return Err(Error::Unsupported {
            what: "a chain without a convolution".into(),
        });
    };
    let rank = match graph.node(first).kind.window().map(|w| w.kernel.len()) {
        Some(1) => Rank::One,
        Some(_) | None => Rank::Two,
    };
    let layers = plan
        .into_iter()
        .map(|(id, act)| conv_from_node(graph, id, act))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((layers, rank))
}
