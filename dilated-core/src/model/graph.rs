//! The builder that checks each op as it is added, and the frozen [`ModelGraph`] with its
//! parameter list and execution plan (the values and ops themselves: `node`).

use std::collections::BTreeSet;
use std::sync::Arc;

use super::error::ModelError;
use super::frozen::GraphInner;
use super::node::{Node, Op, Parameter, ValueId, WeightNorm, label, tensor_name};
use super::params;
use super::plan::{Plan, Step};
use crate::Error;
use crate::conv::{Activation, ConvDesc, Rank, check_rank};
use crate::tensor::DYN;

/// Output length of a conv on one axis (PyTorch's rule), for a known input length.
fn conv_axis(desc: &ConvDesc, axis: usize, len: usize) -> Result<usize, Error> {
    if len == 0 {
        return Err(Error::Zero {
            what: if axis == 0 {
                "input height"
            } else {
                "input width"
            },
        });
    }
    let padded = len
        .checked_add(desc.padding[axis][0])
        .and_then(|v| v.checked_add(desc.padding[axis][1]))
        .ok_or(Error::Overflow {
            what: "padded input",
        })?;
    let effective = desc.effective_kernel(axis)?;
    if effective > padded {
        return Err(Error::KernelTooLarge {
            axis,
            effective,
            padded,
        });
    }
    Ok((padded - effective) / desc.stride[axis] + 1)
}

/// Builds a graph op by op, checking each as it is added: channels, spatial sizes where
/// known, descriptors, tensor names. Every method returns a typed error, never panics.
///
/// Names are PyTorch's `state_dict` module paths: a conv added with prefix
/// `"blocks.3.dilated"` stores `blocks.3.dilated.weight` and `blocks.3.dilated.bias`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelBuilder {
    rank: Rank,
    nodes: Vec<Node>,
    output: Option<ValueId>,
    names: BTreeSet<String>,
    params: Vec<Parameter>,
}

impl ModelBuilder {
    /// A builder for a `rank` model taking `in_channels` channels of any spatial size.
    #[must_use]
    pub fn new(rank: Rank, in_channels: usize) -> Self {
        let size = match rank {
            Rank::One => [1, DYN],
            Rank::Two => [DYN, DYN],
        };
        Self {
            rank,
            nodes: vec![Node {
                op: Op::Input,
                inputs: Vec::new(),
                channels: in_channels,
                size,
            }],
            output: None,
            names: BTreeSet::new(),
            params: Vec::new(),
        }
    }

    /// A builder whose input size is fixed (`[height, width]`; [`DYN`] leaves an axis
    /// dynamic; a 1D model's height is 1): spatial mismatches between branches are then
    /// found here rather than at run time.
    pub fn with_input_size(
        rank: Rank,
        in_channels: usize,
        size: [usize; 2],
    ) -> Result<Self, ModelError> {
        let mut b = Self::new(rank, in_channels);
        if rank == Rank::One && size[0] != 1 && size[0] != DYN {
            return Err(Error::Shape {
                what: "input height of a 1D model",
                expected: 1,
                actual: size[0],
            }
            .into());
        }
        b.nodes[0].size = match rank {
            Rank::One => [1, size[1]],
            Rank::Two => size,
        };
        Ok(b)
    }

    /// The model's input.
    #[must_use]
    pub fn input(&self) -> ValueId {
        ValueId::INPUT
    }

    /// 1D or 2D.
    #[must_use]
    pub fn rank(&self) -> Rank {
        self.rank
    }

    /// Channels of value `v`.
    pub fn channels(&self, v: ValueId) -> Result<usize, ModelError> {
        Ok(self.node(v)?.channels)
    }

    /// Spatial size of value `v` as far as known ([`DYN`] where dynamic).
    pub fn size(&self, v: ValueId) -> Result<[usize; 2], ModelError> {
        Ok(self.node(v)?.size)
    }

    fn node(&self, v: ValueId) -> Result<&Node, ModelError> {
        self.nodes.get(v.0).ok_or(ModelError::UnknownValue {
            value: v.0,
            values: self.nodes.len(),
        })
    }

    /// The label the next op will have in errors.
    fn next_label(&self, op: &Op) -> String {
        match op.prefix() {
            Some(p) => format!("{} `{p}`", op.kind()),
            None => format!("{} (value {})", op.kind(), self.nodes.len()),
        }
    }

    /// Reserves the tensor names of an op (all or none).
    fn claim(&mut self, params: Vec<Parameter>) -> Result<(), ModelError> {
        let mut fresh = BTreeSet::new();
        for p in &params {
            if self.names.contains(&p.name) || !fresh.insert(p.name.clone()) {
                return Err(ModelError::DuplicateTensor {
                    name: p.name.clone(),
                });
            }
        }
        self.names.append(&mut fresh);
        self.params.extend(params);
        Ok(())
    }

    fn push(&mut self, op: Op, inputs: Vec<ValueId>, channels: usize, size: [usize; 2]) -> ValueId {
        self.nodes.push(Node {
            op,
            inputs,
            channels,
            size,
        });
        ValueId(self.nodes.len() - 1)
    }

    /// Checks that `inputs` exist and agree on the known spatial axes; returns their
    /// common size (known where any of them knows it).
    fn joined_size(&self, op: &Op, inputs: &[ValueId]) -> Result<[usize; 2], ModelError> {
        let first = self.node(*inputs.first().ok_or_else(|| ModelError::NoInputs {
            op: self.next_label(op),
        })?)?;
        let mut size = first.size;
        for (i, &v) in inputs.iter().enumerate().skip(1) {
            let s = self.node(v)?.size;
            for axis in 0..2 {
                if size[axis] != DYN && s[axis] != DYN && size[axis] != s[axis] {
                    return Err(ModelError::Spatial {
                        op: self.next_label(op),
                        input: i,
                        expected: first.size,
                        actual: s,
                    });
                }
                if size[axis] == DYN {
                    size[axis] = s[axis];
                }
            }
        }
        Ok(size)
    }

    fn expect_channels(
        &self,
        op: &Op,
        input: usize,
        expected: usize,
        actual: usize,
    ) -> Result<(), ModelError> {
        if expected == actual {
            Ok(())
        } else {
            Err(ModelError::Channels {
                op: self.next_label(op),
                input,
                expected,
                actual,
            })
        }
    }

    /// A convolution of `from`, its tensors under `prefix` (`prefix.weight`, `prefix.bias`
    /// when `desc.bias`, or the weight-norm forms of [`WeightNorm`]). The descriptor's
    /// activation runs after it.
    pub fn conv(
        &mut self,
        from: ValueId,
        prefix: &str,
        desc: ConvDesc,
        norm: WeightNorm,
    ) -> Result<ValueId, ModelError> {
        let op = Op::Conv {
            prefix: prefix.to_owned(),
            desc,
            norm,
        };
        let wrap = |source| ModelError::Op {
            op: self.next_label(&op),
            source,
        };
        desc.validate().map_err(wrap)?;
        check_rank(&desc, self.rank).map_err(wrap)?;
        let input = self.node(from)?;
        self.expect_channels(&op, 0, desc.in_channels, input.channels)?;
        let mut size = input.size;
        for (axis, len) in size.iter_mut().enumerate() {
            if *len != DYN {
                *len = conv_axis(&desc, axis, *len).map_err(wrap)?;
            }
        }
        let tensors = params::conv_parameters(prefix, &desc, norm, self.rank);
        self.claim(tensors)?;
        Ok(self.push(op, vec![from], desc.out_channels, size))
    }

    /// PyTorch's `BatchNorm1d/2d` (`eval()` mode) over `from`'s channels, its tensors under
    /// `prefix`. Folded into the conv before it when that conv's only consumer is this
    /// batch norm; otherwise a per-channel affine map at run time.
    pub fn batch_norm(
        &mut self,
        from: ValueId,
        prefix: &str,
        eps: f32,
    ) -> Result<ValueId, ModelError> {
        let op = Op::BatchNorm {
            prefix: prefix.to_owned(),
            eps,
        };
        if !eps.is_finite() || eps < 0.0 {
            return Err(ModelError::Eps {
                op: self.next_label(&op),
                eps,
            });
        }
        let input = self.node(from)?;
        let (channels, size) = (input.channels, input.size);
        self.claim(params::batch_norm_parameters(prefix, channels))?;
        Ok(self.push(op, vec![from], channels, size))
    }

    /// A fixed activation of `from`; fused into the conv before it where that conv's only
    /// consumer is this activation (after a folded batch norm).
    pub fn activation(
        &mut self,
        from: ValueId,
        activation: Activation,
    ) -> Result<ValueId, ModelError> {
        let input = self.node(from)?;
        let (channels, size) = (input.channels, input.size);
        Ok(self.push(Op::Activation(activation), vec![from], channels, size))
    }

    /// PyTorch's `PReLU(channels)` on `from`: one learned slope per channel, or one shared
    /// (`channels = 1`); `prefix.weight` of shape `[channels]`.
    pub fn prelu(
        &mut self,
        from: ValueId,
        prefix: &str,
        channels: usize,
    ) -> Result<ValueId, ModelError> {
        let op = Op::Prelu {
            prefix: prefix.to_owned(),
            channels,
        };
        let input = self.node(from)?;
        let (c, size) = (input.channels, input.size);
        if channels != 1 && channels != c {
            return Err(ModelError::PreluChannels {
                op: self.next_label(&op),
                channels: c,
                actual: channels,
            });
        }
        self.claim(vec![Parameter {
            name: tensor_name(prefix, "weight"),
            shape: vec![channels],
        }])?;
        Ok(self.push(op, vec![from], c, size))
    }

    /// WaveNet's gate `tanh(a) · sigmoid(b)`, `a` the first half of `from`'s channels
    /// (PyTorch: `a, b = h.chunk(2, 1)`). An odd channel count is an error.
    pub fn gate(&mut self, from: ValueId) -> Result<ValueId, ModelError> {
        let input = self.node(from)?;
        let (c, size) = (input.channels, input.size);
        if c % 2 != 0 {
            return Err(ModelError::OddGate {
                op: self.next_label(&Op::Gate),
                channels: c,
            });
        }
        Ok(self.push(Op::Gate, vec![from], c / 2, size))
    }

    /// The sum of `inputs` in order (`((x₀ + x₁) + x₂) …`, as PyTorch's `x0 + x1 + x2`),
    /// then `activation`: residual adds, skip sums, ESPNet's hierarchical fusion. Every
    /// input has the same channels and spatial size.
    pub fn add(
        &mut self,
        inputs: &[ValueId],
        activation: Activation,
    ) -> Result<ValueId, ModelError> {
        let op = Op::Add { activation };
        let size = self.joined_size(&op, inputs)?;
        let channels = self.node(inputs[0])?.channels;
        for (i, &v) in inputs.iter().enumerate() {
            self.expect_channels(&op, i, channels, self.node(v)?.channels)?;
        }
        Ok(self.push(op, inputs.to_vec(), channels, size))
    }

    /// The channel concatenation of `inputs`, in order (`torch.cat(xs, 1)`). Each input
    /// is written straight into its channel slice of the output where the plan allows.
    pub fn concat(&mut self, inputs: &[ValueId]) -> Result<ValueId, ModelError> {
        let op = Op::Concat;
        let size = self.joined_size(&op, inputs)?;
        let mut channels = 0usize;
        for &v in inputs {
            channels = channels
                .checked_add(self.node(v)?.channels)
                .ok_or(Error::Overflow {
                    what: "concat channels",
                })?;
        }
        Ok(self.push(op, inputs.to_vec(), channels, size))
    }

    /// The mean of `from` over its spatial axes, a 1×1 map (`AdaptiveAvgPool2d(1)`).
    pub fn global_avg_pool(&mut self, from: ValueId) -> Result<ValueId, ModelError> {
        let c = self.node(from)?.channels;
        Ok(self.push(Op::GlobalAvgPool, vec![from], c, [1, 1]))
    }

    /// `from` (a 1×1 map) repeated over `like`'s spatial size: DeepLab v3's image pooling
    /// (its twin's `F.interpolate(size=…, mode="bilinear", align_corners=False)` from 1×1
    /// is exactly this). `like`'s data is not read.
    pub fn broadcast(&mut self, from: ValueId, like: ValueId) -> Result<ValueId, ModelError> {
        let input = self.node(from)?;
        let (c, s) = (input.channels, input.size);
        if s.iter().any(|&v| v != DYN && v != 1) {
            return Err(ModelError::NotPooled {
                op: self.next_label(&Op::Broadcast),
                actual: s,
            });
        }
        let size = self.node(like)?.size;
        Ok(self.push(Op::Broadcast, vec![from, like], c, size))
    }

    /// A dropout: nothing at inference; it keeps the twin's module numbering.
    pub fn dropout(&mut self, from: ValueId) -> Result<ValueId, ModelError> {
        let input = self.node(from)?;
        let (c, size) = (input.channels, input.size);
        Ok(self.push(Op::Dropout, vec![from], c, size))
    }

    /// Makes `v` the model's output (once).
    pub fn output(&mut self, v: ValueId) -> Result<(), ModelError> {
        self.node(v)?;
        if let Some(current) = self.output {
            return Err(ModelError::OutputSet { current: current.0 });
        }
        self.output = Some(v);
        Ok(())
    }

    /// Freezes the graph and plans its run: which ops fuse, which buffers each value lives
    /// in. Ops that do not lead to the output are kept (their tensors load and save) but
    /// not run.
    pub fn build(self) -> Result<ModelGraph, ModelError> {
        let output = self.output.ok_or(ModelError::NoOutput)?;
        if self.nodes[0].channels == 0 {
            return Err(Error::Zero {
                what: "input channels",
            }
            .into());
        }
        let plan = Plan::new(&self.nodes, output, true);
        Ok(ModelGraph {
            inner: Arc::new(GraphInner {
                rank: self.rank,
                nodes: self.nodes,
                output,
                params: self.params,
                plan,
            }),
        })
    }
}

/// A built graph: its ops, its parameters and its execution plan, without weights. Cheap
/// to clone (shared). Give it weights with [`init`](Self::init),
/// [`from_weights`](Self::from_weights) or [`from_safetensors`](Self::from_safetensors).
#[derive(Debug, Clone)]
pub struct ModelGraph {
    pub(crate) inner: Arc<GraphInner>,
}

impl ModelGraph {
    /// 1D or 2D.
    #[must_use]
    pub fn rank(&self) -> Rank {
        self.inner.rank
    }

    /// Every op in the order it was added (node `i` defines [`ValueId`] `i`; node 0 is the
    /// input): the op list a schedule analysis or an exporter walks.
    #[must_use]
    pub fn nodes(&self) -> &[Node] {
        &self.inner.nodes
    }

    /// The output value.
    #[must_use]
    pub fn output(&self) -> ValueId {
        self.inner.output
    }

    /// Input channels.
    #[must_use]
    pub fn in_channels(&self) -> usize {
        self.inner.nodes[0].channels
    }

    /// Output channels.
    #[must_use]
    pub fn out_channels(&self) -> usize {
        self.inner.nodes[self.inner.output.0].channels
    }

    /// The declared input size, [`DYN`] on dynamic axes (a 1D model's height is 1).
    #[must_use]
    pub fn input_size(&self) -> [usize; 2] {
        self.inner.nodes[0].size
    }

    /// Every tensor of the model, named and shaped as in the twin's `state_dict`, in the
    /// order the ops were added (`num_batches_tracked`, which carries no weight, is not
    /// listed).
    #[must_use]
    pub fn parameters(&self) -> &[Parameter] {
        &self.inner.params
    }

    /// How many convolution steps the plan runs (each a chain of convs with single
    /// consumers, run as one engine network) and how many ops they absorbed (folded batch
    /// norms, fused activations and PReLUs, chained convs; convs summed by one add and run
    /// as one conv over the concatenation of their inputs, and the add when they make up
    /// all of it; residual adds run inside the conv they follow).
    #[must_use]
    pub fn fused_ops(&self) -> (usize, usize) {
        let chains = &self.inner.plan.chains;
        let absorbed = chains
            .iter()
            .map(|c| {
                c.links
                    .iter()
                    .map(|l| {
                        usize::from(l.bn.is_some())
                            + usize::from(l.act_node.is_some())
                            + l.merged.len()
                            + usize::from(l.sum.is_some())
                    })
                    .sum::<usize>()
                    + c.links.len()
                    - 1
                    + usize::from(c.prelu.is_some())
            })
            .sum::<usize>()
            + self
                .inner
                .plan
                .steps
                .iter()
                .filter(|s| matches!(s, Step::Conv { add: Some(_), .. }))
                .count();
        (chains.len(), absorbed)
    }

    /// The same graph with every residual add run as its own pass after its conv, rather
    /// than inside the conv: the reference the fused plan is tested against.
    #[doc(hidden)]
    #[must_use]
    pub fn without_fused_adds(&self) -> ModelGraph {
        self.with_plan(self.inner.plan.unfuse_adds())
    }

    /// The same graph run by `plan`.
    fn with_plan(&self, plan: Plan) -> ModelGraph {
        let g = &self.inner;
        ModelGraph {
            inner: Arc::new(GraphInner {
                rank: g.rank,
                nodes: g.nodes.clone(),
                output: g.output,
                params: g.params.clone(),
                plan,
            }),
        }
    }

    /// The same graph planned without summing convs as one conv (each skip conv its own
    /// chain, the add a loop): the reference the merged plan is tested against.
    #[doc(hidden)]
    #[must_use]
    pub fn without_sum_merge(&self) -> ModelGraph {
        self.with_plan(Plan::new(&self.inner.nodes, self.inner.output, false))
    }

    /// How many scratch buffers the plan shares among the values it keeps (values whose
    /// lives do not overlap share one; values written in place or into a concat's channel
    /// slice take none of their own, the inputs of convs summed as one conv included).
    #[must_use]
    pub fn scratch_buffers(&self) -> usize {
        self.inner.plan.slots
    }

    /// The spatial size of every node for an input of `hw`, checking every join (adds,
    /// concats and broadcasts) and every conv: the run-time half of the shape checks.
    pub(crate) fn sizes_into(
        &self,
        hw: [usize; 2],
        out: &mut [[usize; 2]],
    ) -> Result<(), ModelError> {
        let declared = self.input_size();
        for axis in 0..2 {
            if (declared[axis] != DYN && declared[axis] != hw[axis]) || hw[axis] == 0 {
                return Err(ModelError::InputSize {
                    expected: declared,
                    actual: hw,
                });
            }
        }
        let nodes = &self.inner.nodes;
        for (i, node) in nodes.iter().enumerate() {
            let at = |v: ValueId| out[v.0];
            out[i] = match &node.op {
                Op::Input => hw,
                Op::Conv { desc, .. } => {
                    desc.output_size(at(node.inputs[0]))
                        .map_err(|source| ModelError::Op {
                            op: label(nodes, i),
                            source,
                        })?
                }
                Op::BatchNorm { .. }
                | Op::Activation(_)
                | Op::Prelu { .. }
                | Op::Gate
                | Op::Dropout => at(node.inputs[0]),
                Op::Add { .. } | Op::Concat => {
                    let first = at(node.inputs[0]);
                    for (j, &v) in node.inputs.iter().enumerate().skip(1) {
                        if at(v) != first {
                            return Err(ModelError::Spatial {
                                op: label(nodes, i),
                                input: j,
                                expected: first,
                                actual: at(v),
                            });
                        }
                    }
                    first
                }
                Op::GlobalAvgPool => [1, 1],
                Op::Broadcast => {
                    let s = at(node.inputs[0]);
                    if s != [1, 1] {
                        return Err(ModelError::NotPooled {
                            op: label(nodes, i),
                            actual: s,
                        });
                    }
                    at(node.inputs[1])
                }
            };
        }
        Ok(())
    }
}
