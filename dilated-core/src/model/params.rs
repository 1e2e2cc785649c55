//! The model's tensors: their names and shapes, strict loading, PyTorch's default
//! initialisation, saving under the twin's names, and the folding of weight norms and batch
//! norms into the weights the engine runs.
//!
//! The parameters are kept as loaded (or drawn): a weight-normalised conv keeps `g` and `v`,
//! a batch norm keeps its four statistics. Only the engine's copy is folded. So
//! [`save`] writes back exactly what was loaded, and the twin reloads it as the same
//! function, bit for bit (a conv whose weight and batch norm are both plain shares one copy
//! of the weights with the engine; a folded one costs a second copy).

use std::sync::Arc;

use super::error::ModelError;
use super::frozen::GraphInner;
use super::node::{Op, Parameter, WeightNorm, label, tensor_name};
use crate::Error;
use crate::conv::{Activation, Conv, ConvDesc, Rank};
use crate::init::Init;
use crate::weights::Weights;

/// PyTorch's shape of a conv weight: `[C_out, C_in/groups, K]` (1D) or
/// `[C_out, C_in/groups, KH, KW]` (2D).
pub(crate) fn conv_weight_shape(desc: &ConvDesc, rank: Rank) -> Vec<usize> {
    let cpg = desc.in_channels / desc.groups.max(1);
    match rank {
        Rank::One => vec![desc.out_channels, cpg, desc.kernel[1]],
        Rank::Two => vec![desc.out_channels, cpg, desc.kernel[0], desc.kernel[1]],
    }
}

/// The shape of a weight norm's `g`: `[C_out, 1, 1]` (1D) or `[C_out, 1, 1, 1]` (2D).
fn g_shape(desc: &ConvDesc, rank: Rank) -> Vec<usize> {
    match rank {
        Rank::One => vec![desc.out_channels, 1, 1],
        Rank::Two => vec![desc.out_channels, 1, 1, 1],
    }
}

/// The names of `g` and `v` in one weight-norm form.
fn norm_names(prefix: &str, form: WeightNorm) -> Option<[String; 2]> {
    match form {
        WeightNorm::None => None,
        WeightNorm::Parametrization => Some([
            tensor_name(prefix, "parametrizations.weight.original0"),
            tensor_name(prefix, "parametrizations.weight.original1"),
        ]),
        WeightNorm::Legacy => Some([
            tensor_name(prefix, "weight_g"),
            tensor_name(prefix, "weight_v"),
        ]),
    }
}

/// A conv's tensors as the twin names them.
pub(crate) fn conv_parameters(
    prefix: &str,
    desc: &ConvDesc,
    norm: WeightNorm,
    rank: Rank,
) -> Vec<Parameter> {
    let w = conv_weight_shape(desc, rank);
    let mut v = match norm_names(prefix, norm) {
        None => vec![Parameter {
            name: tensor_name(prefix, "weight"),
            shape: w,
        }],
        Some([g, v]) => vec![
            Parameter {
                name: g,
                shape: g_shape(desc, rank),
            },
            Parameter { name: v, shape: w },
        ],
    };
    if desc.bias {
        v.push(Parameter {
            name: tensor_name(prefix, "bias"),
            shape: vec![desc.out_channels],
        });
    }
    v
}

const BN_LEAVES: [&str; 4] = ["weight", "bias", "running_mean", "running_var"];

/// A batch norm's tensors (`num_batches_tracked` aside).
pub(crate) fn batch_norm_parameters(prefix: &str, channels: usize) -> Vec<Parameter> {
    BN_LEAVES
        .iter()
        .map(|leaf| Parameter {
            name: tensor_name(prefix, leaf),
            shape: vec![channels],
        })
        .collect()
}

/// A batch norm's state.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BatchNorm {
    pub(crate) weight: Vec<f32>,
    pub(crate) bias: Vec<f32>,
    pub(crate) mean: Vec<f32>,
    pub(crate) var: Vec<f32>,
}

impl BatchNorm {
    fn identity(channels: usize) -> Self {
        Self {
            weight: vec![1.0; channels],
            bias: vec![0.0; channels],
            mean: vec![0.0; channels],
            var: vec![1.0; channels],
        }
    }

    /// Channel `c`'s scale `γ / √(var + eps)`, in f64.
    fn scale(&self, c: usize, eps: f32) -> f64 {
        f64::from(self.weight[c]) / (f64::from(self.var[c]) + f64::from(eps)).sqrt()
    }

    /// The per-channel affine map `y = x · scale + shift` it computes at inference
    /// (`scale = γ / √(var + eps)`, `shift = β − mean · scale`; in f64, rounded once).
    #[allow(clippy::cast_possible_truncation)] // f64 → f32 rounding is the point.
    pub(crate) fn affine(&self, eps: f32) -> (Vec<f32>, Vec<f32>) {
        (0..self.weight.len())
            .map(|c| {
                let s = self.scale(c, eps);
                let shift = f64::from(self.bias[c]) - f64::from(self.mean[c]) * s;
                (s as f32, shift as f32)
            })
            .unzip()
    }
}

/// One node's parameters, as loaded or drawn.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeParams {
    /// An op without tensors.
    None,
    /// A conv: its weight (`v` when weight-normalised, with `g` beside it) and bias.
    Conv { conv: Conv, g: Option<Vec<f32>> },
    /// A batch norm.
    BatchNorm(BatchNorm),
    /// A PReLU's slopes.
    Prelu(Vec<f32>),
}

/// `‖v‖` per output channel (over every other dim), in f64.
fn row_norms(v: &[f32], rows: usize) -> Vec<f64> {
    let per = v.len() / rows.max(1);
    v.chunks(per.max(1))
        .map(|r| {
            r.iter()
                .map(|&x| f64::from(x) * f64::from(x))
                .sum::<f64>()
                .sqrt()
        })
        .collect()
}

/// PyTorch's defaults, drawn node by node from one generator seeded with `seed`: convs
/// Kaiming-uniform ([`Init::conv`]; a weight-normed conv draws `v` so and sets
/// `g = ‖v‖`, so its weight is `v`), batch norms at identity statistics, PReLU slopes 0.25.
pub(crate) fn init(graph: &GraphInner, seed: u64) -> Result<Vec<NodeParams>, ModelError> {
    let mut init = Init::new(seed);
    graph
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            Ok(match &node.op {
                Op::Conv { desc, norm, .. } => {
                    let conv = init.conv(*desc).map_err(|source| ModelError::Op {
                        op: label(&graph.nodes, i),
                        source,
                    })?;
                    #[allow(clippy::cast_possible_truncation)]
                    let g = match norm {
                        WeightNorm::None => None,
                        WeightNorm::Parametrization | WeightNorm::Legacy => Some(
                            row_norms(conv.weight(), desc.out_channels)
                                .into_iter()
                                .map(|n| n as f32)
                                .collect(),
                        ),
                    };
                    NodeParams::Conv { conv, g }
                }
                Op::BatchNorm { .. } => NodeParams::BatchNorm(BatchNorm::identity(node.channels)),
                Op::Prelu { channels, .. } => NodeParams::Prelu(vec![0.25; *channels]),
                Op::Input
                | Op::Activation(_)
                | Op::Gate
                | Op::Add { .. }
                | Op::Concat
                | Op::GlobalAvgPool
                | Op::Broadcast
                | Op::Dropout => NodeParams::None,
            })
        })
        .collect()
}

/// The first of `names` present in `weights`.
fn first_present<'a>(weights: &Weights, names: &'a [String]) -> Option<&'a String> {
    names.iter().find(|n| weights.shape(n).is_some())
}

/// Takes a weight-normalised conv's `g` and `v`, from whichever form is present (the
/// declared one when neither is, so a missing tensor is named in the declared form).
fn take_norm(
    weights: &mut Weights,
    prefix: &str,
    declared: WeightNorm,
    desc: &ConvDesc,
    rank: Rank,
) -> Result<(Vec<f32>, Vec<f32>), ModelError> {
    let param = norm_names(prefix, WeightNorm::Parametrization).unwrap_or_default();
    let legacy = norm_names(prefix, WeightNorm::Legacy).unwrap_or_default();
    let plain = tensor_name(prefix, "weight");
    let in_p = first_present(weights, &param);
    let in_l = first_present(weights, &legacy);
    if weights.shape(&plain).is_some() {
        let declared_g = norm_names(prefix, declared).unwrap_or_default();
        let other = in_p.or(in_l).unwrap_or(&declared_g[0]).clone();
        return Err(ModelError::ConflictingTensor {
            name: plain,
            other,
            reason: "a weight-normalised conv stores g and v, not a plain weight",
        });
    }
    let [g_name, v_name] = match (in_p, in_l) {
        (Some(p), Some(l)) => {
            return Err(ModelError::ConflictingTensor {
                name: l.clone(),
                other: p.clone(),
                reason: "both forms of the weight norm are present (parametrizations.weight.original0/1 and weight_g/weight_v); keep one",
            });
        }
        (Some(_), None) => param,
        (None, Some(_)) => legacy,
        (None, None) => norm_names(prefix, declared).unwrap_or(param),
    };
    let g = weights.take(&g_name, &g_shape(desc, rank))?;
    let v = weights.take(&v_name, &conv_weight_shape(desc, rank))?;
    Ok((g, v))
}

/// Takes every node's tensors out of `weights`, strictly: a missing tensor, a wrong shape,
/// an unread dtype and a tensor left over are errors naming it. `num_batches_tracked` of a
/// batch norm is accepted when it is a scalar (PyTorch's I64, or any dtype) and ignored.
pub(crate) fn load(
    graph: &GraphInner,
    mut weights: Weights,
) -> Result<Vec<NodeParams>, ModelError> {
    let rank = graph.rank;
    let mut ignored = Vec::new();
    let mut out = Vec::with_capacity(graph.nodes.len());
    for (i, node) in graph.nodes.iter().enumerate() {
        out.push(match &node.op {
            Op::Conv { prefix, desc, norm } => {
                let (weight, g) = match norm {
                    WeightNorm::None => (
                        weights.take(
                            &tensor_name(prefix, "weight"),
                            &conv_weight_shape(desc, rank),
                        )?,
                        None,
                    ),
                    WeightNorm::Parametrization | WeightNorm::Legacy => {
                        let (g, v) = take_norm(&mut weights, prefix, *norm, desc, rank)?;
                        (v, Some(g))
                    }
                };
                let bias = if desc.bias {
                    Some(weights.take(&tensor_name(prefix, "bias"), &[desc.out_channels])?)
                } else {
                    None
                };
                let conv = Conv::new(*desc, weight, bias).map_err(|source| ModelError::Op {
                    op: label(&graph.nodes, i),
                    source,
                })?;
                NodeParams::Conv { conv, g }
            }
            Op::BatchNorm { prefix, .. } => {
                let c = [node.channels];
                let mut take = |leaf: &str| weights.take(&tensor_name(prefix, leaf), &c);
                let bn = BatchNorm {
                    weight: take(BN_LEAVES[0])?,
                    bias: take(BN_LEAVES[1])?,
                    mean: take(BN_LEAVES[2])?,
                    var: take(BN_LEAVES[3])?,
                };
                let tracked = tensor_name(prefix, "num_batches_tracked");
                if let Some(shape) = weights.shape(&tracked) {
                    if !shape.is_empty() {
                        return Err(Error::WeightShape {
                            name: tracked,
                            expected: Vec::new(),
                            actual: shape.to_vec(),
                        }
                        .into());
                    }
                    ignored.push(tracked);
                }
                NodeParams::BatchNorm(bn)
            }
            Op::Prelu { prefix, channels } => {
                NodeParams::Prelu(weights.take(&tensor_name(prefix, "weight"), &[*channels])?)
            }
            Op::Input
            | Op::Activation(_)
            | Op::Gate
            | Op::Add { .. }
            | Op::Concat
            | Op::GlobalAvgPool
            | Op::Broadcast
            | Op::Dropout => NodeParams::None,
        });
    }
    // Left untaken (rather than taken and dropped): an I64 scalar cannot be read as f32.
    let names: Vec<String> = weights
        .into_remaining()
        .into_iter()
        .filter(|n| !ignored.contains(n))
        .collect();
    if names.is_empty() {
        Ok(out)
    } else {
        Err(Error::UnexpectedTensors { names }.into())
    }
}

/// Every tensor under the twin's names, as loaded or drawn: a weight-normalised conv writes
/// `g` and `v` in its declared form, a batch norm its four statistics
/// (`num_batches_tracked` is not written: PyTorch's batch norm fills in a missing one when
/// it loads a plain `state_dict` such as `safetensors.torch.load_file` returns).
pub(crate) fn save(graph: &GraphInner, params: &[NodeParams]) -> Result<Weights, ModelError> {
    let rank = graph.rank;
    let mut w = Weights::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        match &node.op {
            Op::Conv { prefix, desc, norm } => {
                let Some((conv, g)) = conv_of(params, i) else {
                    continue;
                };
                let shape = conv_weight_shape(desc, rank);
                if let (Some([gn, vn]), Some(g)) = (norm_names(prefix, *norm), g) {
                    w.insert(gn, g_shape(desc, rank), g.to_vec())?;
                    w.insert(vn, shape, conv.weight().to_vec())?;
                } else {
                    w.insert(tensor_name(prefix, "weight"), shape, conv.weight().to_vec())?;
                }
                if let Some(b) = conv.bias() {
                    w.insert(tensor_name(prefix, "bias"), vec![b.len()], b.to_vec())?;
                }
            }
            Op::BatchNorm { prefix, .. } => {
                if let Some(bn) = batch_norm_of(params, i) {
                    for (leaf, data) in BN_LEAVES
                        .iter()
                        .zip([&bn.weight, &bn.bias, &bn.mean, &bn.var])
                    {
                        w.insert(tensor_name(prefix, leaf), vec![data.len()], data.clone())?;
                    }
                }
            }
            Op::Prelu { prefix, .. } => {
                if let Some(slopes) = prelu_of(params, i) {
                    w.insert(
                        tensor_name(prefix, "weight"),
                        vec![slopes.len()],
                        slopes.to_vec(),
                    )?;
                }
            }
            Op::Input
            | Op::Activation(_)
            | Op::Gate
            | Op::Add { .. }
            | Op::Concat
            | Op::GlobalAvgPool
            | Op::Broadcast
            | Op::Dropout => {}
        }
    }
    Ok(w)
}

/// The conv the engine runs for one link of a chain: the weight norm folded
/// (`w = g · v / ‖v‖` per output channel), then the batch norm
/// (`w · s`, `(b − mean) · s + β`, `s = γ / √(var + eps)`), in f64 and rounded once;
/// `activation` fused into the epilogue. A conv with nothing to fold shares its weights.
pub(crate) fn engine_conv(
    conv: &Conv,
    g: Option<&[f32]>,
    bn: Option<(&BatchNorm, f32)>,
    activation: Activation,
) -> Result<Conv, Error> {
    let desc = ConvDesc {
        activation,
        bias: conv.desc().bias || bn.is_some(),
        ..*conv.desc()
    };
    if g.is_none() && bn.is_none() {
        return Ok(Conv {
            desc,
            weight: Arc::clone(&conv.weight),
            bias: conv.bias.clone(),
        });
    }
    let rows = desc.out_channels;
    let per = conv.weight().len() / rows.max(1);
    let norms = g.map(|_| row_norms(conv.weight(), rows));
    let mut weight = Vec::with_capacity(conv.weight().len());
    let mut bias = Vec::with_capacity(rows);
    for (co, row) in conv.weight().chunks(per.max(1)).enumerate() {
        let mut factor = 1.0f64;
        if let (Some(g), Some(n)) = (g, &norms) {
            factor = f64::from(g[co]) / n[co];
        }
        let mut b = conv.bias().map_or(0.0, |b| f64::from(b[co]));
        if let Some((bn, eps)) = bn {
            let s = bn.scale(co, eps);
            factor *= s;
            b = (b - f64::from(bn.mean[co])) * s + f64::from(bn.bias[co]);
        }
        #[allow(clippy::cast_possible_truncation)]
        weight.extend(row.iter().map(|&x| (f64::from(x) * factor) as f32));
        #[allow(clippy::cast_possible_truncation)]
        bias.push(b as f32);
    }
    let bias = desc.bias.then_some(bias);
    Conv::new(desc, weight, bias)
}

/// Convs summed by one add as one conv: `Σ (W_i * z_i + b_i) = [W_1 … W_k] * concat(z_1,
/// …, z_k) + Σ b_i`. The weights are concatenated along the input channels (in order), the
/// biases summed in f64 and rounded once (no bias if none has one); no activation. The
/// convs share kernel, rate, stride, padding and output channels, with one group (the plan
/// sees to it; anything else is an error).
pub(crate) fn sum_conv(convs: &[Conv]) -> Result<Conv, Error> {
    let first = convs.first().ok_or(Error::Zero {
        what: "convs in a sum",
    })?;
    let d0 = *first.desc();
    let mut in_channels = 0usize;
    for c in convs {
        let d = c.desc();
        let pairs = [
            ("groups of a summed conv", 1, d.groups),
            (
                "output channels of a summed conv",
                d0.out_channels,
                d.out_channels,
            ),
            ("kernel height of a summed conv", d0.kernel[0], d.kernel[0]),
            ("kernel width of a summed conv", d0.kernel[1], d.kernel[1]),
            (
                "rate (height) of a summed conv",
                d0.dilation[0],
                d.dilation[0],
            ),
            (
                "rate (width) of a summed conv",
                d0.dilation[1],
                d.dilation[1],
            ),
            (
                "stride (height) of a summed conv",
                d0.stride[0],
                d.stride[0],
            ),
            ("stride (width) of a summed conv", d0.stride[1], d.stride[1]),
            (
                "top padding of a summed conv",
                d0.padding[0][0],
                d.padding[0][0],
            ),
            (
                "bottom padding of a summed conv",
                d0.padding[0][1],
                d.padding[0][1],
            ),
            (
                "left padding of a summed conv",
                d0.padding[1][0],
                d.padding[1][0],
            ),
            (
                "right padding of a summed conv",
                d0.padding[1][1],
                d.padding[1][1],
            ),
        ];
        if let Some(&(what, expected, actual)) = pairs.iter().find(|(_, e, a)| e != a) {
            return Err(Error::Shape {
                what,
                expected,
                actual,
            });
        }
        in_channels = in_channels
            .checked_add(d.in_channels)
            .ok_or(Error::Overflow {
                what: "channels of a summed conv",
            })?;
    }
    let desc = ConvDesc {
        in_channels,
        bias: convs.iter().any(|c| c.bias().is_some()),
        activation: Activation::Identity,
        ..d0
    };
    let rows = desc.out_channels;
    let mut weight = Vec::with_capacity(conv_weight_len(&desc)?);
    for co in 0..rows {
        for c in convs {
            let per = c.weight().len() / rows.max(1);
            weight.extend_from_slice(&c.weight()[co * per..(co + 1) * per]);
        }
    }
    let bias = desc.bias.then(|| {
        (0..rows)
            .map(|co| {
                let sum: f64 = convs
                    .iter()
                    .filter_map(|c| c.bias().map(|b| f64::from(b[co])))
                    .sum();
                #[allow(clippy::cast_possible_truncation)] // f64 → f32 rounding is the point.
                let b = sum as f32;
                b
            })
            .collect()
    });
    Conv::new(desc, weight, bias)
}

/// The number of weights of `desc`, checked.
fn conv_weight_len(desc: &ConvDesc) -> Result<usize, Error> {
    let cpg = desc.in_channels / desc.groups.max(1);
    [desc.out_channels, cpg, desc.kernel[0], desc.kernel[1]]
        .iter()
        .try_fold(1usize, |acc, &x| acc.checked_mul(x))
        .ok_or(Error::Overflow {
            what: "weights of a summed conv",
        })
}

/// The node's conv and `g`, for the plan's links.
pub(crate) fn conv_of(params: &[NodeParams], node: usize) -> Option<(&Conv, Option<&[f32]>)> {
    match &params[node] {
        NodeParams::Conv { conv, g } => Some((conv, g.as_deref())),
        NodeParams::None | NodeParams::BatchNorm(_) | NodeParams::Prelu(_) => None,
    }
}

/// The node's batch norm.
pub(crate) fn batch_norm_of(params: &[NodeParams], node: usize) -> Option<&BatchNorm> {
    match &params[node] {
        NodeParams::BatchNorm(bn) => Some(bn),
        NodeParams::None | NodeParams::Conv { .. } | NodeParams::Prelu(_) => None,
    }
}

/// The node's PReLU slopes.
pub(crate) fn prelu_of(params: &[NodeParams], node: usize) -> Option<&[f32]> {
    match &params[node] {
        NodeParams::Prelu(s) => Some(s),
        NodeParams::None | NodeParams::Conv { .. } | NodeParams::BatchNorm(_) => None,
    }
}
