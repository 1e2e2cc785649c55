//! The recognised items as `dilated_stack!` text, as weights under the twin's module
//! paths, and as the schedule graph the macro judges (built as the macro builds it, so
//! the `check:` block written is the one the declaration needs).

use std::fmt::Write as _;

use dilated_core::conv::Rank;
use dilated_core::schedule::graph::{Graph, GraphError, NodeId};
use dilated_core::schedule::{AxisSpec, PadMode};
use dilated_core::weights::Weights;
use dilated_core::{Conv, Error};

use super::blocks::{Item, Join};
use super::conv_line;

/// `conv(…)` with `padding: causal` where a 1D conv is padded `d·(k − 1)` on the left
/// only (the macro then knows the body reads no future sample).
fn conv_text(c: &Conv, rank: Rank) -> String {
    let d = c.desc();
    let span = d.dilation[1].saturating_mul(d.kernel[1].saturating_sub(1));
    let line = conv_line(c, rank);
    if rank == Rank::One && span > 0 && d.padding[1] == [span, 0] {
        line.replace(&format!("padding: ({span}, 0)"), "padding: causal")
    } else {
        line
    }
}

fn eps_text(eps: f32) -> String {
    if eps == 1e-5 {
        "batch_norm".to_owned()
    } else {
        format!("batch_norm(eps: {eps:?})")
    }
}

/// The items as lines of `layers: [ … ]`, each indented by `pad` spaces.
pub(crate) fn lines(items: &[Item], rank: Rank, pad: usize, out: &mut String) {
    let ind = " ".repeat(pad);
    for item in items {
        match item {
            Item::Conv(c) => {
                let _ = writeln!(out, "{ind}{},", conv_text(c, rank));
            }
            Item::Act(a) => {
                let _ = writeln!(out, "{ind}{a},");
            }
            Item::BatchNorm { eps, .. } => {
                let _ = writeln!(out, "{ind}{},", eps_text(*eps));
            }
            Item::Prelu(_) => {
                let _ = writeln!(out, "{ind}prelu,");
            }
            Item::Gated => {
                let _ = writeln!(out, "{ind}gated,");
            }
            Item::SkipSum => {
                let _ = writeln!(out, "{ind}skip_sum,");
            }
            Item::Skip(inner) => {
                let _ = writeln!(out, "{ind}skip [");
                lines(inner, rank, pad + 4, out);
                let _ = writeln!(out, "{ind}],");
            }
            Item::Residual {
                body,
                shortcut,
                activation,
            } => {
                let _ = writeln!(out, "{ind}residual {{");
                let _ = writeln!(out, "{ind}    body: [");
                lines(body, rank, pad + 8, out);
                let _ = writeln!(out, "{ind}    ],");
                if let Some(s) = shortcut {
                    let _ = writeln!(out, "{ind}    shortcut: [");
                    lines(s, rank, pad + 8, out);
                    let _ = writeln!(out, "{ind}    ],");
                }
                if let Some(a) = activation {
                    let _ = writeln!(out, "{ind}    activation: {a},");
                }
                let _ = writeln!(out, "{ind}}},");
            }
            Item::Parallel { branches, join } => {
                let _ = writeln!(out, "{ind}parallel {{");
                let _ = writeln!(out, "{ind}    branches: [");
                for b in branches {
                    let pool = if b.pool { "pool " } else { "" };
                    if b.items.is_empty() {
                        let _ = writeln!(out, "{ind}        {pool}[],");
                        continue;
                    }
                    let _ = writeln!(out, "{ind}        {pool}[");
                    lines(&b.items, rank, pad + 12, out);
                    let _ = writeln!(out, "{ind}        ],");
                }
                let _ = writeln!(out, "{ind}    ],");
                let _ = writeln!(out, "{ind}    join: {},", join.word());
                let _ = writeln!(out, "{ind}}},");
            }
        }
    }
}

/// The items' tensors under the twin's module paths (`{base}{index}.…`).
pub(crate) fn weights(
    items: &[Item],
    base: &str,
    start: usize,
    rank: Rank,
    w: &mut Weights,
) -> Result<(), Error> {
    for (j, item) in items.iter().enumerate() {
        let prefix = format!("{base}{}", j + start);
        match item {
            Item::Conv(c) => w.insert_conv_prefixed(&format!("{prefix}."), c, rank)?,
            Item::BatchNorm { params, .. } => {
                for (leaf, v) in ["weight", "bias", "running_mean", "running_var"]
                    .iter()
                    .zip(params.iter())
                {
                    w.insert(format!("{prefix}.{leaf}"), vec![v.len()], v.clone())?;
                }
            }
            Item::Prelu(s) => w.insert(format!("{prefix}.weight"), vec![s.len()], s.clone())?,
            Item::Act(_) | Item::Gated | Item::SkipSum => {}
            Item::Skip(inner) => weights(inner, &format!("{prefix}."), 0, rank, w)?,
            Item::Residual { body, shortcut, .. } => {
                weights(body, &format!("{prefix}.body."), 0, rank, w)?;
                if let Some(s) = shortcut {
                    weights(s, &format!("{prefix}.shortcut."), 0, rank, w)?;
                }
            }
            Item::Parallel { branches, .. } => {
                for (b, branch) in branches.iter().enumerate() {
                    let start = usize::from(branch.pool);
                    weights(
                        &branch.items,
                        &format!("{prefix}.branches.{b}."),
                        start,
                        rank,
                        w,
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// The schedule graph of the items, as `dilated_stack!` lowers them.
pub(crate) struct Lower {
    pub(crate) graph: Graph,
    skips: Vec<NodeId>,
    rank: Rank,
}

impl Lower {
    pub(crate) fn new(rank: Rank) -> Result<(Self, NodeId), GraphError> {
        let mut graph = match rank {
            Rank::One => Graph::one_d(),
            Rank::Two => Graph::two_d(),
        };
        let input = graph.input(None)?;
        Ok((
            Self {
                graph,
                skips: Vec::new(),
                rank,
            },
            input,
        ))
    }

    pub(crate) fn list(&mut self, items: &[Item], mut x: NodeId) -> Result<NodeId, GraphError> {
        for item in items {
            x = self.item(item, x)?;
        }
        Ok(x)
    }

    fn item(&mut self, item: &Item, x: NodeId) -> Result<NodeId, GraphError> {
        Ok(match item {
            Item::Conv(c) => {
                let d = c.desc();
                let axes: &[usize] = match self.rank {
                    Rank::One => &[1],
                    Rank::Two => &[0, 1],
                };
                let specs: Vec<AxisSpec> = axes
                    .iter()
                    .map(|&a| {
                        AxisSpec::new(d.kernel[a] as u64, d.dilation[a] as u64)
                            .with_stride(d.stride[a] as u64)
                            .with_padding(PadMode::Explicit {
                                lo: d.padding[a][0] as u64,
                                hi: d.padding[a][1] as u64,
                            })
                    })
                    .collect();
                self.graph.conv(x, &specs)?
            }
            Item::Act(_) | Item::BatchNorm { .. } | Item::Prelu(_) | Item::Gated => x,
            Item::Skip(inner) => {
                let s = self.list(inner, x)?;
                self.skips.push(s);
                x
            }
            Item::SkipSum => {
                let skips = self.skips.clone();
                self.graph.sum(&skips)?
            }
            Item::Residual { body, shortcut, .. } => {
                let b = self.list(body, x)?;
                let s = match shortcut {
                    Some(items) => self.list(items, x)?,
                    None => x,
                };
                self.graph.sum(&[b, s])?
            }
            Item::Parallel { branches, join } => {
                let mut outs = Vec::with_capacity(branches.len());
                for b in branches {
                    outs.push(if b.pool {
                        let p = self.graph.global_pool(x)?;
                        let v = self.list(&b.items, p)?;
                        self.graph.pointwise(v)?
                    } else {
                        self.list(&b.items, x)?
                    });
                }
                match join {
                    Join::Concat => self.graph.concat(&outs)?,
                    Join::Sum => self.graph.sum(&outs)?,
                    Join::Hierarchical => {
                        let mut fused = vec![outs[0]];
                        if let Some(&second) = outs.get(1) {
                            let mut acc = second;
                            fused.push(acc);
                            for &o in &outs[2..] {
                                acc = self.graph.sum(&[acc, o])?;
                                fused.push(acc);
                            }
                        }
                        self.graph.concat(&fused)?
                    }
                }
            }
        })
    }
}
