//! Per-axis geometry of a node: how its positions map to input pixels, and the plan of an
//! op (which input phase, shifted by how many pixels, each output phase reads).
//!
//! A node's positions come in blocks of `period` phases: position `q = m·period + r` sees
//! the pixels `m·step + o` for the offsets `o` of phase `r`'s map. Without upsampling
//! `period` is 1 and `step` is the jump; an upsampling by `f` multiplies the period by `f`,
//! so the jump `step / period` becomes fractional and the map depends on the phase.

use super::error::GraphError;
use super::types::{Jump, MAX_GRAPH_PHASES, MAX_GRAPH_TAPS, NodeId, ResizeMode};
use crate::schedule::axis::Axis;
use crate::schedule::error::ScheduleError;
use crate::schedule::hdc::gcd;
use crate::schedule::spec::AxisSpec;
use crate::schedule::spec::overflow;

/// Positions `q = m·period + r` see pixels `m·step + (offsets of phase r)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct AxisGeo {
    pub(super) period: u64,
    pub(super) step: u64,
}

impl AxisGeo {
    /// The input's own geometry: one phase, `jump` pixels per position.
    pub(super) const fn input(jump: u64) -> Self {
        Self {
            period: 1,
            step: jump,
        }
    }

    pub(super) fn jump(self) -> Jump {
        Jump::new(self.step, self.period).unwrap_or(Jump { num: 0, den: 1 })
    }

    /// Whether two geometries have the same jump (`step / period`).
    pub(super) fn same_jump(self, other: Self) -> bool {
        u128::from(self.step) * u128::from(other.period)
            == u128::from(other.step) * u128::from(self.period)
    }
}

/// One input read by an output phase: input phase `phase`, shifted by `shift` pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Tap {
    pub(super) phase: usize,
    pub(super) shift: i64,
}

/// What every output phase of an op reads along one axis.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Plan {
    /// The output's geometry.
    pub(super) out: AxisGeo,
    /// Per output phase, the taps it reads.
    pub(super) taps: Vec<Vec<Tap>>,
}

/// Where an error is raised: the node being added and the axis.
#[derive(Debug, Clone, Copy)]
pub(super) struct At {
    pub(super) node: NodeId,
    pub(super) axis: Axis,
}

impl At {
    fn overflow(self, what: &'static str) -> GraphError {
        GraphError::schedule(Some(self.node), overflow(what).on_axis(self.axis))
    }

    fn phases(self, phases: u64) -> Result<(), GraphError> {
        if phases > MAX_GRAPH_PHASES {
            return Err(GraphError::TooManyPhases {
                node: self.node,
                axis: self.axis,
                phases,
                limit: MAX_GRAPH_PHASES,
            });
        }
        Ok(())
    }

    fn taps(self, taps: u64) -> Result<(), GraphError> {
        if taps > MAX_GRAPH_TAPS {
            return Err(GraphError::TooManyTaps {
                node: self.node,
                axis: self.axis,
                taps,
                limit: MAX_GRAPH_TAPS,
            });
        }
        Ok(())
    }

    /// Input index `c` relative to the block start → (input phase, pixel shift).
    fn tap(self, c: i128, geo: AxisGeo) -> Result<Tap, GraphError> {
        let p = i128::from(geo.period);
        let blocks = c.div_euclid(p);
        let phase = usize::try_from(c.rem_euclid(p)).map_err(|_| self.overflow("tap offset"))?;
        let shift = blocks
            .checked_mul(i128::from(geo.step))
            .and_then(|s| i64::try_from(s).ok())
            .ok_or_else(|| self.overflow("tap offset"))?;
        Ok(Tap { phase, shift })
    }
}

/// A conv (or a local pool) along one axis: output position `q` reads input positions
/// `q·s − p_lo + t·d` for `t = 0..k`, with the real padding of the spec's mode.
pub(super) fn conv_plan(geo: AxisGeo, spec: &AxisSpec, at: At) -> Result<Plan, GraphError> {
    let wrap = |e| GraphError::schedule(Some(at.node), ScheduleError::on_axis(e, at.axis));
    spec.validate().map_err(wrap)?;
    let (lo, _) = spec.padding_amounts().map_err(wrap)?;
    let g = gcd(geo.period, spec.stride);
    let period = geo.period / g;
    let step = geo
        .step
        .checked_mul(spec.stride / g)
        .ok_or_else(|| at.overflow("jump (product of strides)"))?;
    at.taps(period.saturating_mul(spec.kernel))?;
    let mut taps = Vec::with_capacity(usize::try_from(period).unwrap_or(0));
    for r in 0..period {
        let base = i128::from(r) * i128::from(spec.stride) - i128::from(lo);
        let mut phase = Vec::with_capacity(usize::try_from(spec.kernel).unwrap_or(0));
        for t in 0..spec.kernel {
            phase.push(at.tap(base + i128::from(t) * i128::from(spec.rate), geo)?);
        }
        taps.push(phase);
    }
    Ok(Plan {
        out: AxisGeo { period, step },
        taps,
    })
}

/// An upsampling by `factor` along one axis (PyTorch's `interpolate`, `align_corners =
/// False`, away from the borders): nearest reads input `floor(q / f)`; linear reads
/// `floor(src)` and `floor(src) + 1` with `src = (q + ½)/f − ½`, the second only when its
/// weight is not 0.
pub(super) fn resize_plan(
    geo: AxisGeo,
    factor: u64,
    mode: ResizeMode,
    at: At,
) -> Result<Plan, GraphError> {
    let period = geo.period.saturating_mul(factor);
    at.phases(period)?;
    at.taps(period.saturating_mul(2))?;
    let f = i128::from(factor);
    let mut taps = Vec::with_capacity(usize::try_from(period).unwrap_or(0));
    for r in 0..period {
        let r = i128::from(r);
        let phase = match mode {
            ResizeMode::Nearest => vec![at.tap(r.div_euclid(f), geo)?],
            ResizeMode::Linear => {
                let num = 2 * r + 1 - f;
                let c0 = num.div_euclid(2 * f);
                if num.rem_euclid(2 * f) == 0 {
                    vec![at.tap(c0, geo)?]
                } else {
                    vec![at.tap(c0, geo)?, at.tap(c0 + 1, geo)?]
                }
            }
        };
        taps.push(phase);
    }
    Ok(Plan {
        out: AxisGeo {
            period,
            step: geo.step,
        },
        taps,
    })
}

/// The same positions described with `period` phases (a multiple of the current one), so
/// that branches of a merge share one description.
pub(super) fn reperiod_plan(geo: AxisGeo, period: u64, at: At) -> Result<Plan, GraphError> {
    at.phases(period)?;
    let times = period / geo.period;
    let step = geo
        .step
        .checked_mul(times)
        .ok_or_else(|| at.overflow("jump"))?;
    let mut taps = Vec::with_capacity(usize::try_from(period).unwrap_or(0));
    for r in 0..period {
        taps.push(vec![at.tap(i128::from(r), geo)?]);
    }
    Ok(Plan {
        out: AxisGeo { period, step },
        taps,
    })
}

/// The identity along an axis (the width axis of a 1D graph).
pub(super) fn identity_plan() -> Plan {
    Plan {
        out: AxisGeo::input(1),
        taps: vec![vec![Tap { phase: 0, shift: 0 }]],
    }
}

/// The least common multiple of two periods, against the phase limit.
pub(super) fn lcm(a: u64, b: u64, at: At) -> Result<u64, GraphError> {
    let l = (a / gcd(a, b)).saturating_mul(b);
    at.phases(l)?;
    Ok(l)
}

/// Offsets `(min, max)` of every output phase, from the input phases'.
pub(super) fn apply_bounds(
    plan: &Plan,
    input: &[(i64, i64)],
    at: At,
) -> Result<Vec<(i64, i64)>, GraphError> {
    plan.taps
        .iter()
        .map(|taps| {
            let mut lo = i64::MAX;
            let mut hi = i64::MIN;
            for t in taps {
                let (a, b) = input[t.phase];
                let a = a
                    .checked_add(t.shift)
                    .ok_or_else(|| at.overflow("offset"))?;
                let b = b
                    .checked_add(t.shift)
                    .ok_or_else(|| at.overflow("offset"))?;
                lo = lo.min(a);
                hi = hi.max(b);
            }
            Ok((lo, hi))
        })
        .collect()
}

/// The number of offsets from `lo` to `hi`, saturated.
pub(super) fn extent((lo, hi): (i64, i64)) -> u64 {
    u64::try_from(i128::from(hi) - i128::from(lo) + 1).unwrap_or(u64::MAX)
}
