//! [`Graph::analyze`] and [`Graph::coverage`]: pick the dense maps or the exact gap test,
//! walk the graph, and turn the verdicts into reports and diagnostics.

use core::fmt::Write as _;
use std::collections::HashSet;

use super::build::{Graph, Node, Op, Plans, spec2d};
use super::chain::chains;
use super::dense::{Dense, Seen};
use super::engine::{Budget, Cover, PhaseVerdict, Run, propagate};
use super::error::GraphError;
use super::geo::{Plan, extent};
use super::report::{
    ChainReport, GraphCoverage, GraphCoverageStatus, GraphDiagnostic, GraphOptions, GraphReport,
    HoleList, NodeReport, OutputAxis, OutputReport, PhaseMap,
};
use super::terms::Terms;
use super::types::{Jump, MAX_GRAPH_MAP_CELLS, MAX_GRAPH_RF, MAX_GRAPH_WORK, Method, NodeId};
use crate::schedule::analyze::{Options, analyze};
use crate::schedule::check::{CheckId, Level};
use crate::schedule::coverage::{Count, coverage_row_text};
use crate::schedule::error::{ErrorKind, ScheduleError};
use crate::schedule::hdc::hdc;
use crate::schedule::limits::MAX_COVERAGE_RF;
use crate::schedule::report::{Diagnostic, Figure};
use crate::schedule::spec::{AxisSpec, Schedule, Spec2d};

/// The verdicts of every output phase and the method, per output.
type Verdicts = Vec<(Vec<PhaseVerdict>, Method)>;

/// What a walk gives the report: per node whether it has holes, the outputs' verdicts,
/// their coverage status.
type Walked = (Vec<Option<bool>>, Verdicts, Vec<GraphCoverageStatus>);

impl Graph {
    /// Analyses the outputs: receptive field, jump, holes (exactly: dense maps when small,
    /// the gap test otherwise), the node that opens them, global context, HDC rules per
    /// chain, and leveled diagnostics.
    ///
    /// ```
    /// use dilated_core::schedule::graph::{Graph, GraphOptions};
    /// use dilated_core::schedule::{AxisSpec, CheckId};
    /// // A 1×3 branch beside a 3×1 branch: no hole on either axis, four in 2D (the corners).
    /// let mut g = Graph::two_d();
    /// let x = g.input(None)?;
    /// let a = g.conv(x, &[AxisSpec::new(1, 1), AxisSpec::new(3, 1)])?;
    /// let b = g.conv(x, &[AxisSpec::new(3, 1), AxisSpec::new(1, 1)])?;
    /// let cat = g.concat(&[a, b])?;
    /// let r = g.analyze(&GraphOptions::default())?;
    /// let out = &r.outputs[0];
    /// assert_eq!((out.receptive_field(), out.hole_count), (vec![3, 3], 4));
    /// assert_eq!(out.first_hole_node, Some(cat));
    /// assert_eq!(r.diagnostics[0].diagnostic.check, CheckId::Holes);
    /// # Ok::<(), dilated_core::schedule::graph::GraphError>(())
    /// ```
    ///
    /// # Errors
    /// [`GraphError::NoInput`], an unknown output, and the limits: [`MAX_GRAPH_RF`],
    /// [`MAX_GRAPH_TERMS`](super::MAX_GRAPH_TERMS), [`MAX_GRAPH_WORK`].
    pub fn analyze(&self, options: &GraphOptions) -> Result<GraphReport, GraphError> {
        if self.input_node().is_none() {
            return Err(GraphError::NoInput);
        }
        let outputs = if options.outputs.is_empty() {
            self.sinks()
        } else {
            for &o in &options.outputs {
                self.get(o)?;
            }
            options.outputs.clone()
        };
        let needed = self.ancestors(&outputs);
        self.check_fields(&needed)?;
        let (run_holes, verdicts, coverage) = self.walk(&needed, &outputs, options)?;
        let consumers = self.consumer_lists();
        let reports: Vec<OutputReport> = outputs
            .iter()
            .zip(verdicts)
            .zip(coverage)
            .map(|((&o, (v, method)), c)| {
                self.output_report(o, v, method, &run_holes, &consumers, c)
            })
            .collect();
        let nodes = (0..self.len())
            .filter(|&i| needed[i])
            .map(|i| self.node_report(NodeId::from_index(i), run_holes[i] == Some(true)))
            .collect::<Result<Vec<_>, GraphError>>()?;
        let mut report = GraphReport {
            rank: self.rank(),
            outputs: reports,
            nodes,
            chains: Vec::new(),
            diagnostics: Vec::new(),
        };
        let helps = self.chain_reports(&needed, options, &mut report)?;
        for i in 0..report.outputs.len() {
            if report.outputs[i].has_holes() && options.levels.holes != Level::Allow {
                let d = self.holes_diagnostic(&report.outputs[i], &report.chains, &helps, options);
                report.diagnostics.push(d);
            }
        }
        let mut seen = HashSet::new();
        report
            .diagnostics
            .retain(|d| seen.insert((d.diagnostic.check, d.node, d.diagnostic.message.clone())));
        report.diagnostics.sort_by_key(|d| {
            (
                core::cmp::Reverse(d.diagnostic.level),
                CheckId::ALL.iter().position(|&c| c == d.diagnostic.check),
            )
        });
        Ok(report)
    }

    /// Walks the graph with dense maps (counts, or [`Seen`] when the counts are not asked
    /// for or overflow) when they fit, with the exact gap test otherwise: per node whether
    /// it has holes, the outputs' verdicts, their coverage status.
    fn walk(
        &self,
        needed: &[bool],
        outputs: &[NodeId],
        options: &GraphOptions,
    ) -> Result<Walked, GraphError> {
        let mut budget = Budget::new(MAX_GRAPH_WORK);
        Ok(
            match self.dense_fit(needed, self.dense_limit(options.dense_cells)) {
                Ok(()) if options.coverage => {
                    match propagate::<Dense<u128>>(self, needed, outputs, &mut budget) {
                        Ok(run) => {
                            let v = verdicts_of(&run, &mut budget, outputs)?;
                            let c = run
                                .outputs
                                .iter()
                                .map(|d| GraphCoverageStatus::Exact(self.to_coverage(d)))
                                .collect();
                            (run.holes, v, c)
                        }
                        Err(GraphError::Schedule {
                            error:
                                ScheduleError {
                                    kind: ErrorKind::CountOverflow,
                                    ..
                                },
                            ..
                        }) => {
                            let mut budget = Budget::new(MAX_GRAPH_WORK);
                            let run = propagate::<Dense<Seen>>(self, needed, outputs, &mut budget)?;
                            let v = verdicts_of(&run, &mut budget, outputs)?;
                            (
                                run.holes,
                                v,
                                vec![GraphCoverageStatus::Overflow; outputs.len()],
                            )
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(()) => {
                    let run = propagate::<Dense<Seen>>(self, needed, outputs, &mut budget)?;
                    let v = verdicts_of(&run, &mut budget, outputs)?;
                    (
                        run.holes,
                        v,
                        vec![GraphCoverageStatus::NotComputed; outputs.len()],
                    )
                }
                Err(reason) => {
                    let run = propagate::<Terms>(self, needed, outputs, &mut budget)?;
                    let v = verdicts_of(&run, &mut budget, outputs)?;
                    (
                        run.holes,
                        v,
                        vec![GraphCoverageStatus::OverLimit(reason); outputs.len()],
                    )
                }
            },
        )
    }

    /// Exact counts of one node in any [`Count`] type: for each phase, the number of paths
    /// from one position of that phase to each input offset (global paths not counted).
    ///
    /// ```
    /// use dilated_core::schedule::graph::Graph;
    /// use dilated_core::schedule::AxisSpec;
    /// // A residual block: the identity adds one path at offset 0.
    /// let mut g = Graph::one_d();
    /// let x = g.input(None)?;
    /// let body = g.conv(x, &[AxisSpec::new(3, 1)])?;
    /// let y = g.sum(&[body, x])?;
    /// let c = g.coverage::<u64>(y)?;
    /// let row = c.maps[0].row().unwrap();
    /// assert_eq!((row.min_offset, row.counts), (-1, vec![1, 2, 1]));
    /// # Ok::<(), dilated_core::schedule::graph::GraphError>(())
    /// ```
    ///
    /// # Errors
    /// [`GraphError::MapTooLarge`] past the dense limit ([`MAX_GRAPH_MAP_CELLS`] in 2D,
    /// [`MAX_COVERAGE_RF`] in 1D), [`GraphError::TooCostly`], a count that does not fit
    /// `C`, and as [`analyze`](Self::analyze).
    pub fn coverage<C: Count>(&self, output: NodeId) -> Result<GraphCoverage<C>, GraphError> {
        if self.input_node().is_none() {
            return Err(GraphError::NoInput);
        }
        self.get(output)?;
        let needed = self.ancestors(&[output]);
        self.check_fields(&needed)?;
        self.dense_fit(&needed, self.dense_limit(None))?;
        let run =
            propagate::<Dense<C>>(self, &needed, &[output], &mut Budget::new(MAX_GRAPH_WORK))?;
        let d = run.outputs.first().ok_or(GraphError::UnknownNode {
            node: output,
            nodes: self.len(),
        })?;
        Ok(self.to_coverage(d))
    }

    /// The outputs and everything they read.
    fn ancestors(&self, outputs: &[NodeId]) -> Vec<bool> {
        let mut needed = vec![false; self.len()];
        for o in outputs {
            needed[o.index()] = true;
        }
        for i in (0..self.len()).rev() {
            if needed[i] {
                for f in self.nodes()[i].op().inputs() {
                    needed[f.index()] = true;
                }
            }
        }
        needed
    }

    fn consumer_lists(&self) -> Vec<Vec<usize>> {
        let mut c = vec![Vec::new(); self.len()];
        for (i, n) in self.nodes().iter().enumerate() {
            for f in n.op().inputs() {
                if c[f.index()].last() != Some(&i) {
                    c[f.index()].push(i);
                }
            }
        }
        c
    }

    /// Every needed node's receptive field against [`MAX_GRAPH_RF`].
    fn check_fields(&self, needed: &[bool]) -> Result<(), GraphError> {
        for (i, n) in self.nodes().iter().enumerate() {
            let (true, Some(b)) = (needed[i], &n.derived.bounds) else {
                continue;
            };
            for (a, &axis) in self.axes().iter().enumerate() {
                let rf = b[a].iter().map(|&p| extent(p)).max().unwrap_or(0);
                if rf > MAX_GRAPH_RF {
                    return Err(GraphError::ReceptiveFieldTooLarge {
                        node: NodeId::from_index(i),
                        axis,
                        receptive_field: rf,
                        limit: MAX_GRAPH_RF,
                    });
                }
            }
        }
        Ok(())
    }

    fn dense_limit(&self, asked: Option<u64>) -> u64 {
        let limit = if self.rank() == 1 {
            MAX_COVERAGE_RF
        } else {
            MAX_GRAPH_MAP_CELLS
        };
        asked.map_or(limit, |c| c.min(limit))
    }

    /// Whether dense maps fit: every needed node's widest phase within `limit` cells and
    /// the cell additions within [`MAX_GRAPH_WORK`]. The error says which limit fails.
    fn dense_fit(&self, needed: &[bool], limit: u64) -> Result<(), GraphError> {
        let mut work: u64 = 0;
        for (i, n) in self.nodes().iter().enumerate() {
            let (true, Some(b)) = (needed[i], &n.derived.bounds) else {
                continue;
            };
            let node = NodeId::from_index(i);
            let side = |a: usize| b[a].iter().map(|&p| extent(p)).max().unwrap_or(0);
            let cells = side(0).saturating_mul(side(1));
            if cells > limit {
                return Err(GraphError::MapTooLarge { node, cells, limit });
            }
            let inputs = n.op().inputs();
            let step = match &n.derived.plans {
                Plans::Input => cells,
                Plans::Empty | Plans::Pass => 0,
                Plans::Unary(p) => self.plan_work(p, inputs[0]),
                Plans::Merge(ps) => ps
                    .iter()
                    .zip(inputs)
                    .filter_map(|(p, &f)| p.as_ref().map(|p| self.plan_work(p, f)))
                    .fold(0u64, |acc, w| acc.saturating_add(w.saturating_mul(2))),
            };
            work = work.saturating_add(step);
            if work > MAX_GRAPH_WORK {
                return Err(GraphError::TooCostly {
                    node,
                    limit: MAX_GRAPH_WORK,
                });
            }
        }
        Ok(())
    }

    /// Cell additions of a separable op on the dense maps of `from`.
    fn plan_work(&self, plans: &[Plan; 2], from: NodeId) -> u64 {
        let Some(b) = self.node(from).and_then(|n| n.derived.bounds.as_ref()) else {
            return 0;
        };
        (0..2)
            .map(|a| {
                plans[a]
                    .taps
                    .iter()
                    .flatten()
                    .fold(0u64, |acc, t| acc.saturating_add(extent(b[a][t.phase])))
            })
            .fold(1u64, u64::saturating_mul)
    }

    fn to_coverage<C: Count>(&self, d: &Dense<C>) -> GraphCoverage<C> {
        let r = self.rank();
        let periods = d.periods[..r].iter().map(|&p| p as u64).collect();
        let maps = d
            .maps
            .iter()
            .enumerate()
            .map(|(i, m)| PhaseMap {
                phase: [i / d.periods[1], i % d.periods[1]][..r]
                    .iter()
                    .map(|&p| p as u64)
                    .collect(),
                min_offset: m.min[..r].to_vec(),
                shape: m.shape[..r].to_vec(),
                counts: m.cells.clone(),
            })
            .collect();
        GraphCoverage { periods, maps }
    }

    fn node_report(&self, id: NodeId, holes: bool) -> Result<NodeReport, GraphError> {
        Ok(NodeReport {
            node: id,
            receptive_field: self.receptive_field(id)?,
            jump: self.jump(id)?,
            holes,
            global: self.get(id)?.is_global(),
        })
    }

    fn output_report(
        &self,
        o: NodeId,
        verdicts: Vec<PhaseVerdict>,
        method: Method,
        node_holes: &[Option<bool>],
        consumers: &[Vec<usize>],
        coverage: GraphCoverageStatus,
    ) -> OutputReport {
        let r = self.rank();
        let ext = |v: &PhaseVerdict, a: usize| v.bounds.map_or(0, |b| extent(b[a]));
        let cells = |v: &PhaseVerdict| ext(v, 0).saturating_mul(ext(v, 1));
        let mut best = 0;
        for (i, v) in verdicts.iter().enumerate() {
            let b = &verdicts[best];
            if (v.hole_count, cells(v)) > (b.hole_count, cells(b)) {
                best = i;
            }
        }
        let first = &verdicts[0];
        let varies = verdicts.iter().any(|v| {
            (ext(v, 0), ext(v, 1), v.hole_count) != (ext(first, 0), ext(first, 1), first.hole_count)
        });
        let rep = &verdicts[best];
        let geo = self.node(o).and_then(|n| n.derived.geo);
        let axes = self
            .axes()
            .iter()
            .enumerate()
            .map(|(a, &axis)| OutputAxis {
                axis,
                receptive_field: verdicts.iter().map(|v| ext(v, a)).max().unwrap_or(0),
                jump: geo.map(|g| g[a].jump()),
                phases: geo.map_or(1, |g| g[a].period),
                min_offset: rep.bounds.map_or(0, |b| b[a].0),
                widest_gap: rep.widest[a],
            })
            .collect();
        let holes = rep.holes.as_ref().map(|v| {
            if r == 1 {
                HoleList::Offsets(v.iter().map(|c| c[0]).collect())
            } else {
                HoleList::Cells(v.clone())
            }
        });
        let anc = self.ancestors(&[o]);
        let first_hole_node = (rep.hole_count > 0)
            .then(|| first_persistent(o, &anc, node_holes, consumers))
            .flatten();
        let global_pool = (0..self.len())
            .filter(|&i| anc[i])
            .find(|&i| matches!(self.nodes()[i].op(), Op::GlobalPool { .. }))
            .map(NodeId::from_index);
        OutputReport {
            node: o,
            axes,
            method,
            phase: rep.phase[..r].iter().map(|&p| p as u64).collect(),
            varies,
            hole_count: rep.hole_count,
            holes,
            first_hole_node,
            global: self.node(o).is_some_and(Node::is_global),
            global_pool,
            coverage,
        }
    }

    /// The chains of the needed nodes, their HDC figures and diagnostics (the chain
    /// analysis's, with its words), into the report. Returns, per chain, the chain
    /// analysis's own `help:` line when the chain alone has holes or breaks a rule.
    fn chain_reports(
        &self,
        needed: &[bool],
        options: &GraphOptions,
        report: &mut GraphReport,
    ) -> Result<Vec<Option<String>>, GraphError> {
        let mut helps = Vec::new();
        let mut levels = options.levels;
        levels.holes = Level::Deny;
        levels.no_output = Level::Allow;
        levels.long_range = Level::Allow;
        let chain_options = Options {
            levels,
            input: Vec::new(),
            coverage: false,
            suggest: options.suggest,
        };
        for nodes in chains(self, needed) {
            if nodes.len() < 2 {
                continue;
            }
            let schedule = self.chain_schedule(&nodes);
            let leaf = nodes.last().copied();
            let a =
                analyze(&schedule, &chain_options).map_err(|e| GraphError::schedule(leaf, e))?;
            let ci = report.chains.len();
            helps.push(a.diagnostics.iter().find_map(|d| d.help.clone()));
            for d in a.diagnostics {
                if matches!(d.check, CheckId::Hdc1 | CheckId::Hdc2 | CheckId::Hdc3) {
                    let node = d.layer.and_then(|l| nodes.get(l).copied());
                    report.diagnostics.push(GraphDiagnostic {
                        diagnostic: d,
                        node,
                        output: None,
                        chain: Some(ci),
                    });
                }
            }
            report.chains.push(ChainReport {
                hdc: schedule.axes().iter().map(|(_, l)| hdc(l)).collect(),
                nodes,
                schedule,
                suggestions: a.suggestions,
            });
        }
        Ok(helps)
    }

    /// The per-axis specs of a conv node (`1×1` for anything else).
    fn conv_axes(&self, id: NodeId) -> Vec<AxisSpec> {
        match self.node(id).map(Node::op) {
            Some(Op::Conv { axes, .. } | Op::Pool { axes, .. }) => axes.clone(),
            _ => vec![AxisSpec::new(1, 1); self.rank()],
        }
    }

    fn chain_schedule(&self, nodes: &[NodeId]) -> Schedule {
        if self.rank() == 1 {
            Schedule::one_d(nodes.iter().map(|&n| self.conv_axes(n)[0]).collect())
        } else {
            let specs: Vec<Spec2d> = nodes
                .iter()
                .map(|&n| spec2d(&self.conv_axes(n)).unwrap_or(Spec2d::square(1, 1)))
                .collect();
            Schedule::two_d(&specs)
        }
    }

    /// `6` or `6×1`: the rates of a conv or pool.
    fn rate_text(&self, id: NodeId) -> String {
        let axes = self.conv_axes(id);
        if axes.iter().all(|a| a.rate == axes[0].rate) {
            axes[0].rate.to_string()
        } else {
            axes.iter()
                .map(|a| a.rate.to_string())
                .collect::<Vec<_>>()
                .join("×")
        }
    }

    /// The holes finding's words: the output, the count, the widest gaps, the node that
    /// opens them, the phase, global context, and in 1D the coverage row.
    fn holes_message(&self, out: &OutputReport) -> String {
        let name = self.name(out.node);
        let rf: Vec<String> = out
            .axes
            .iter()
            .map(|a| a.receptive_field.to_string())
            .collect();
        let gaps: Vec<u64> = out.axes.iter().map(|a| a.widest_gap).collect();
        let mut message = if self.rank() == 1 {
            format!(
                "gridding: {name} leaves holes: {} of the {} offsets in its receptive field are never read (widest gap: {})",
                out.hole_count, rf[0], gaps[0]
            )
        } else {
            format!(
                "gridding: {name} leaves holes: {} of the {} cells of its receptive field are never read (widest gap: {} along the height, {} along the width)",
                out.hole_count,
                rf.join("×"),
                gaps[0],
                gaps[1]
            )
        };
        if let Some(n) = out.first_hole_node {
            let node = &self.nodes()[n.index()];
            let what = match node.op() {
                Op::Conv { .. } | Op::Pool { .. } => format!(" (rate {})", self.rate_text(n)),
                Op::Sum { from } | Op::Concat { from } => {
                    format!(" (of {} branches)", from.len())
                }
                Op::Input { .. }
                | Op::GlobalPool { .. }
                | Op::Pointwise { .. }
                | Op::Resize { .. } => String::new(),
            };
            let _ = write!(
                message,
                "; the holes open at {} {}{what}",
                node.op().kind(),
                self.name(n)
            );
        }
        if out.axes.iter().any(|a| a.phases > 1) {
            let phases: Vec<String> = out.axes.iter().map(|a| a.phases.to_string()).collect();
            let phase: Vec<String> = out.phase.iter().map(u64::to_string).collect();
            let _ = write!(
                message,
                " (phase {} of {} after an upsampling{})",
                phase.join("×"),
                phases.join("×"),
                if out.varies {
                    ": the field varies with the output position, the phase with the most holes is shown"
                } else {
                    ""
                }
            );
        }
        if let (true, Some(p)) = (out.global, out.global_pool) {
            let _ = write!(
                message,
                "; it also sees the whole input through the global pool {}, which gives every position the same value and fills no hole",
                self.name(p)
            );
        }
        if let (1, Some(c)) = (self.rank(), out.coverage.exact()) {
            let idx = out
                .phase
                .first()
                .map_or(0, |&p| usize::try_from(p).unwrap_or(0));
            if let Some(row) = c.maps.get(idx).and_then(PhaseMap::row) {
                let _ = write!(
                    message,
                    "\ncoverage {}..={}: {}",
                    row.min_offset,
                    row.min_offset + row.counts.len() as i64 - 1,
                    coverage_row_text(&row, 48)
                );
            }
        }
        message
    }

    fn holes_diagnostic(
        &self,
        out: &OutputReport,
        chains: &[ChainReport],
        helps: &[Option<String>],
        options: &GraphOptions,
    ) -> GraphDiagnostic {
        let rf: Vec<String> = out
            .axes
            .iter()
            .map(|a| a.receptive_field.to_string())
            .collect();
        let gaps: Vec<u64> = out.axes.iter().map(|a| a.widest_gap).collect();
        let chain = out
            .first_hole_node
            .and_then(|n| chains.iter().position(|c| c.nodes.contains(&n)));
        let layer = chain.and_then(|c| {
            chains[c]
                .nodes
                .iter()
                .position(|&x| Some(x) == out.first_hole_node)
        });
        let message = self.holes_message(out);
        let help = chain
            .filter(|_| options.suggest)
            .and_then(|c| {
                let help = helps[c].as_deref()?;
                let names =
                    [chains[c].nodes.first()?, chains[c].nodes.last()?].map(|&n| self.name(n));
                Some(format!("in the chain {} … {}: {help}", names[0], names[1]))
            })
            .or_else(|| out.first_hole_node.and_then(|n| self.kind_help(n)));
        GraphDiagnostic {
            diagnostic: Diagnostic {
                check: CheckId::Holes,
                level: options.levels.holes,
                axis: None,
                layer,
                message,
                help: Some(help.unwrap_or_else(|| GENERIC_HELP.to_string())),
                figures: vec![
                    fig("receptive_field", rf.join("×")),
                    fig("hole_count", out.hole_count),
                    fig(
                        "first_hole_node",
                        out.first_hole_node
                            .map_or(String::from("none"), |n| n.index().to_string()),
                    ),
                    fig(
                        "widest_gap",
                        gaps.iter()
                            .map(u64::to_string)
                            .collect::<Vec<_>>()
                            .join("×"),
                    ),
                ],
            },
            node: out.first_hole_node,
            output: Some(out.node),
            chain,
        }
    }

    /// The help line for a node that opens holes outside a chain.
    fn kind_help(&self, id: NodeId) -> Option<String> {
        let node = self.node(id)?;
        match node.op() {
            Op::Conv { from, axes } | Op::Pool { from, axes } => {
                let jump = self.jump(*from).ok().flatten()?;
                let rf = self.receptive_field(*from).ok()?;
                let (a, step) = axes.iter().zip(&jump).enumerate().find_map(|(a, (s, j))| {
                    let step = Jump::new(s.rate.saturating_mul(j.num), j.den)?;
                    (u128::from(step.num) > u128::from(rf[a]) * u128::from(step.den))
                        .then_some((a, step))
                })?;
                Some(format!(
                    "its taps are {step} px apart on the {} axis but what it reads sees {} px per position: lower its rate, put a conv with a smaller rate before it, or, if the input is a feature map, declare the field its features already see (`InputField`)",
                    self.axes()[a].name(),
                    rf[a]
                ))
            }
            Op::Sum { .. } | Op::Concat { .. } => Some(
                "the branches merged here each read part of the field and leave gaps between them: give one branch a field that spans the gaps (a smaller rate, or a kernel over both axes)"
                    .to_string(),
            ),
            Op::Resize { from, .. } => {
                let jump = self.jump(*from).ok().flatten()?;
                let rf = self.receptive_field(*from).ok()?;
                Some(format!(
                    "the features upsampled here are {} px apart but see {} px each: widen their field before the upsampling",
                    jump[0], rf[0]
                ))
            }
            Op::Input { .. } | Op::GlobalPool { .. } | Op::Pointwise { .. } => None,
        }
    }
}

const GENERIC_HELP: &str = "start each chain with rate 1, let each rate be at most the width the layers before it cover, and let the rates share no common factor";

fn fig(name: &'static str, value: impl ToString) -> Figure {
    Figure {
        name,
        value: value.to_string(),
    }
}

/// The verdicts of every output of a walk.
fn verdicts_of<R: Cover>(
    run: &Run<R>,
    budget: &mut Budget,
    outputs: &[NodeId],
) -> Result<Verdicts, GraphError> {
    run.outputs
        .iter()
        .zip(outputs)
        .map(|(c, &o)| {
            let v = c.verdicts(true, budget).map_err(|f| f.at(o))?;
            Ok((v, c.method()))
        })
        .collect()
}

/// The first ancestor (id order) with holes from which every path to `o` has holes.
fn first_persistent(
    o: NodeId,
    anc: &[bool],
    holes: &[Option<bool>],
    consumers: &[Vec<usize>],
) -> Option<NodeId> {
    let mut persist = vec![false; anc.len()];
    let mut first = None;
    for i in (0..=o.index()).rev() {
        if !anc[i] || holes[i] != Some(true) {
            continue;
        }
        persist[i] = i == o.index()
            || consumers[i]
                .iter()
                .filter(|&&c| c <= o.index() && anc[c])
                .all(|&c| persist[c]);
        if persist[i] {
            first = Some(NodeId::from_index(i));
        }
    }
    first
}
