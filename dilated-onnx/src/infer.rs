//! Static shape inference and the classification of data-path nodes: for every operator
//! of the ONNX issue (and those the `light` models hold) the output shapes, the
//! [`NodeKind`] with its window, scale or axis, and the export hazards.

use std::rc::Rc;

use crate::attrs::Attrs;
use crate::error::Error;
use crate::fold::{
    Budget, Const, SHAPE_LIKE, axis, reshape_dims, slice_len, slice_params, slice_range,
    unsqueeze_dims,
};
use crate::graph::{
    AutoPad, Crop, Dim, Global, Hazard, Head, Merge, NodeKind, Pad, PadMode, Pointwise, PoolKind,
    Resize, ResizeMode, Shape, Value, ValueId, Window,
};
use crate::tensor::{DataType, Tensor};

/// Lazily converted constants, one slot per value.
#[derive(Debug, Default)]
pub(crate) struct Consts {
    slots: Vec<Option<Option<Rc<Const>>>>,
}

impl Consts {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            slots: vec![None; n],
        }
    }

    /// Records a constant made by folding.
    pub(crate) fn set(&mut self, id: ValueId, c: Rc<Const>) {
        self.slots[id.0] = Some(Some(c));
    }

    /// The constant value of `id`, converted once (charged to `budget`); `None` for data,
    /// for tensors too large to fold, and once the budget is spent.
    pub(crate) fn get(
        &mut self,
        values: &[Value],
        id: ValueId,
        budget: &mut Budget,
    ) -> Result<Option<Rc<Const>>, Error> {
        if let Some(c) = &self.slots[id.0] {
            return Ok(c.clone());
        }
        let v = &values[id.0];
        let c = match &v.constant {
            None => None,
            Some(t) => convert(t, &v.name, budget)?,
        };
        self.slots[id.0] = Some(c.clone());
        Ok(c)
    }
}

fn convert(t: &Tensor, name: &str, budget: &mut Budget) -> Result<Option<Rc<Const>>, Error> {
    if t.splat_value().is_none() {
        if t.len() > crate::MAX_FOLD_ELEMENTS
            || budget.used.saturating_add(t.len()) > crate::MAX_FOLD_TOTAL
        {
            return Ok(None);
        }
        budget.used += t.len();
    }
    Ok(Const::from_tensor(t, name)?.map(Rc::new))
}

/// A node's inputs as the inference sees them.
pub(crate) struct Inputs<'a> {
    pub(crate) ids: &'a [Option<ValueId>],
    pub(crate) values: &'a [Value],
    pub(crate) consts: &'a mut Consts,
    pub(crate) budget: &'a mut Budget,
}

impl Inputs<'_> {
    pub(crate) fn present(&self, i: usize) -> bool {
        matches!(self.ids.get(i), Some(Some(_)))
    }

    fn value(&self, i: usize) -> Option<&Value> {
        Some(&self.values[(*self.ids.get(i)?)?.0])
    }

    pub(crate) fn shape(&self, i: usize) -> Option<&Shape> {
        self.value(i)?.shape.as_ref()
    }

    pub(crate) fn dtype(&self, i: usize) -> Option<DataType> {
        self.value(i)?.dtype
    }

    /// Whether input `i` is present and not a constant.
    pub(crate) fn is_data(&self, i: usize) -> bool {
        self.value(i).is_some_and(|v| v.constant.is_none())
    }

    pub(crate) fn konst(&mut self, i: usize) -> Result<Option<Rc<Const>>, Error> {
        let Some(Some(id)) = self.ids.get(i).copied() else {
            return Ok(None);
        };
        self.consts.get(self.values, id, self.budget)
    }

    /// A shape-like constant input (at most [`SHAPE_LIKE`] entries) as integers.
    fn ints(&mut self, i: usize) -> Result<Option<Vec<i64>>, Error> {
        Ok(self
            .konst(i)?
            .filter(|c| c.len() <= SHAPE_LIKE)
            .and_then(|c| c.ints()))
    }

    /// A shape-like constant input (at most [`SHAPE_LIKE`] entries) as reals.
    fn floats(&mut self, i: usize) -> Result<Option<Vec<f64>>, Error> {
        Ok(self
            .konst(i)?
            .filter(|c| c.len() <= SHAPE_LIKE)
            .and_then(|c| c.floats()))
    }

    fn data_count(&self) -> usize {
        (0..self.ids.len()).filter(|&i| self.is_data(i)).count()
    }
}

/// What inference found for a data-path node.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) kind: NodeKind,
    pub(crate) shapes: Vec<Option<Shape>>,
    pub(crate) dtypes: Vec<Option<DataType>>,
    pub(crate) hazards: Vec<Hazard>,
}

fn unknown(reason: impl Into<String>) -> NodeKind {
    NodeKind::Unknown {
        reason: reason.into(),
    }
}

/// Numpy broadcasting over shapes that may hold free dimensions.
fn broadcast(a: &Attrs<'_>, shapes: &[Option<&Shape>]) -> Result<Option<Shape>, Error> {
    let mut all = Vec::with_capacity(shapes.len());
    for s in shapes {
        match s {
            Some(s) => all.push(*s),
            None => return Ok(None),
        }
    }
    let rank = all.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![Dim::Known(1); rank];
    for s in all {
        let off = rank - s.len();
        for (i, d) in s.iter().enumerate() {
            let o = &mut out[off + i];
            *o = match (&*o, d) {
                (Dim::Known(1), d) => d.clone(),
                (o, Dim::Known(1)) => o.clone(),
                (Dim::Known(x), Dim::Known(y)) if x != y => {
                    return Err(a.err(format!("shapes {} do not broadcast", show(shapes))));
                }
                (Dim::Known(x), _) | (_, Dim::Known(x)) => Dim::Known(*x),
                (Dim::Symbol(x), Dim::Symbol(y)) if x == y => Dim::Symbol(x.clone()),
                _ => Dim::Unknown,
            };
        }
    }
    Ok(Some(out))
}

fn show(shapes: &[Option<&Shape>]) -> String {
    let parts: Vec<String> = shapes
        .iter()
        .map(|s| match s {
            Some(s) => {
                let d: Vec<String> = s.iter().map(ToString::to_string).collect();
                format!("[{}]", d.join(", "))
            }
            None => "?".into(),
        })
        .collect();
    parts.join(" and ")
}

fn known_shape(dims: &[u64]) -> Shape {
    dims.iter().map(|&d| Dim::Known(d)).collect()
}

fn product(dims: &[Dim]) -> Dim {
    let mut n = 1u64;
    for d in dims {
        match d.known().and_then(|d| n.checked_mul(d)) {
            Some(v) => n = v,
            None => return Dim::Unknown,
        }
    }
    Dim::Known(n)
}

/// The number of spatial axes of a tensor of `rank`, given the graph's.
fn spatial_of(rank: usize, graph_spatial: Option<usize>) -> Option<usize> {
    match graph_spatial {
        Some(s) if rank >= s + 2 => Some(s),
        Some(_) => None,
        None => (rank >= 3).then(|| rank - 2),
    }
}

/// Reads `auto_pad`.
fn auto_pad(a: &Attrs<'_>) -> Result<AutoPad, Error> {
    Ok(match a.string("auto_pad").as_deref() {
        None | Some("NOTSET" | "") => AutoPad::NotSet,
        Some("VALID") => AutoPad::Valid,
        Some("SAME_UPPER") => AutoPad::SameUpper,
        Some("SAME_LOWER") => AutoPad::SameLower,
        Some(other) => return Err(a.err(format!("unknown auto_pad {other:?}"))),
    })
}

/// The window of a Conv or pool, and its output's spatial dims.
struct WindowOut {
    window: Window,
    spatial: Vec<Dim>,
    hazards: Vec<Hazard>,
}

fn window(
    a: &Attrs<'_>,
    kernel: Vec<u64>,
    input: Option<&[Dim]>,
    group: u64,
    pool: bool,
) -> Result<WindowOut, Error> {
    let s = kernel.len();
    if s == 0 {
        return Err(a.err("the kernel has no spatial axis"));
    }
    if kernel.contains(&0) {
        return Err(a.err(format!("kernel {kernel:?} has a zero size")));
    }
    let per_axis = |name: &str| -> Result<Vec<u64>, Error> {
        match a.counts(name, 1)? {
            None => Ok(vec![1; s]),
            Some(v) if v.is_empty() => Ok(vec![1; s]),
            Some(v) if v.len() == s => Ok(v),
            Some(v) => Err(a.err(format!(
                "{name} has {} entries for {s} spatial axes",
                v.len()
            ))),
        }
    };
    let dilations = per_axis("dilations")?;
    let strides = per_axis("strides")?;
    let ap = auto_pad(a)?;
    let ceil_mode = pool && a.int_or("ceil_mode", 0) != 0;
    let explicit = match a.counts("pads", 0)? {
        None => vec![[0, 0]; s],
        Some(v) if v.is_empty() => vec![[0, 0]; s],
        Some(v) if v.len() == 2 * s => (0..s).map(|i| [v[i], v[s + i]]).collect(),
        Some(v) => {
            return Err(a.err(format!("pads has {} entries for {s} spatial axes", v.len())));
        }
    };
    let mut hazards = Vec::new();
    let mut eff = Vec::with_capacity(s);
    for i in 0..s {
        let e = dilations[i]
            .checked_mul(kernel[i] - 1)
            .and_then(|v| v.checked_add(1))
            .ok_or_else(|| a.err("the effective kernel overflows"))?;
        eff.push(e);
    }
    if matches!(ap, AutoPad::SameUpper | AutoPad::SameLower) && dilations.iter().any(|&d| d > 1) {
        hazards.push(Hazard::SameWithDilation {
            auto_pad: ap,
            dilations: dilations.clone(),
        });
    }
    if ap == AutoPad::NotSet {
        for (i, p) in explicit.iter().enumerate() {
            if p[0] != p[1] {
                hazards.push(Hazard::AsymmetricPads {
                    axis: i,
                    begin: p[0],
                    end: p[1],
                });
            }
        }
    }
    let mut pads: Option<Vec<[u64; 2]>> = Some(Vec::with_capacity(s));
    let mut spatial = Vec::with_capacity(s);
    for i in 0..s {
        let d_in = input.map_or(Dim::Unknown, |x| x[i].clone());
        let (p, out) = match ap {
            AutoPad::NotSet | AutoPad::Valid => {
                let p = if ap == AutoPad::Valid {
                    [0, 0]
                } else {
                    explicit[i]
                };
                let out = match d_in.known() {
                    Some(n) => {
                        let padded = n
                            .checked_add(p[0])
                            .and_then(|v| v.checked_add(p[1]))
                            .ok_or_else(|| a.err("the padded input overflows"))?;
                        if eff[i] > padded {
                            return Err(a.err(format!(
                                "the effective kernel {} is wider than the padded input {padded} on spatial axis {i}",
                                eff[i]
                            )));
                        }
                        let span = padded - eff[i];
                        let mut o = if ceil_mode {
                            span.div_ceil(strides[i]) + 1
                        } else {
                            span / strides[i] + 1
                        };
                        // A last window that would start in the end padding is dropped.
                        if ceil_mode && (o - 1) * strides[i] >= n + p[0] {
                            o -= 1;
                        }
                        Dim::Known(o)
                    }
                    None if strides[i] == 1 && p[0] + p[1] + 1 == eff[i] => d_in.clone(),
                    None => Dim::Unknown,
                };
                (Some(p), out)
            }
            AutoPad::SameUpper | AutoPad::SameLower => {
                let total = |n: u64| -> Option<u64> {
                    let o = n.div_ceil(strides[i]);
                    Some(
                        o.saturating_sub(1)
                            .checked_mul(strides[i])?
                            .checked_add(eff[i])?
                            .saturating_sub(n),
                    )
                };
                let (t, out) = match d_in.known() {
                    Some(n) => (
                        Some(total(n).ok_or_else(|| a.err("padding overflows"))?),
                        Dim::Known(n.div_ceil(strides[i])),
                    ),
                    None if strides[i] == 1 => (Some(eff[i] - 1), d_in.clone()),
                    None => (None, Dim::Unknown),
                };
                let p = t.map(|t| {
                    let small = t / 2;
                    if ap == AutoPad::SameUpper {
                        [small, t - small]
                    } else {
                        [t - small, small]
                    }
                });
                (p, out)
            }
        };
        match (p, pads.as_mut()) {
            (Some(p), Some(v)) => v.push(p),
            (None, _) | (_, None) => pads = None,
        }
        spatial.push(out);
    }
    Ok(WindowOut {
        window: Window {
            kernel,
            dilations,
            strides,
            pads,
            auto_pad: ap,
            group,
            ceil_mode,
            in_channels: None,
            out_channels: None,
        },
        spatial,
        hazards,
    })
}

fn conv(a: &Attrs<'_>, ins: &mut Inputs<'_>) -> Result<Outcome, Error> {
    let x = ins.shape(0).cloned();
    let w = ins.shape(1).cloned();
    let group = u64::try_from(a.int_or("group", 1))
        .ok()
        .filter(|&g| g >= 1)
        .ok_or_else(|| a.err("group must be at least 1"))?;
    let kernel = match (a.counts("kernel_shape", 1)?, &w) {
        (Some(k), _) => k,
        (None, Some(w)) if w.len() >= 3 => match w[2..].iter().map(Dim::known).collect() {
            Some(k) => k,
            None => return Err(a.err("the kernel size is neither given nor fixed by the weight")),
        },
        (None, _) => return Err(a.err("the kernel size is neither given nor fixed by the weight")),
    };
    let s = kernel.len();
    if let Some(w) = &w {
        if w.len() != s + 2 {
            return Err(a.err(format!(
                "the weight has rank {}, the kernel {s} spatial axes",
                w.len()
            )));
        }
        for (i, (d, k)) in w[2..].iter().zip(&kernel).enumerate() {
            if let Some(d) = d.known()
                && d != *k
            {
                return Err(a.err(format!(
                    "kernel_shape {kernel:?} disagrees with the weight on axis {i} ({d})"
                )));
            }
        }
    }
    if let Some(x) = &x
        && x.len() != s + 2
    {
        return Err(a.err(format!(
            "the input has rank {}, the kernel {s} spatial axes",
            x.len()
        )));
    }
    let out_c = w.as_ref().and_then(|w| w[0].known());
    let per_group = w.as_ref().and_then(|w| w[1].known());
    let in_c = x.as_ref().and_then(|x| x[1].known());
    if let Some(m) = out_c
        && m % group != 0
    {
        return Err(a.err(format!(
            "{m} output channels are not divisible by group {group}"
        )));
    }
    if let (Some(c), Some(pg)) = (in_c, per_group)
        && pg.checked_mul(group) != Some(c)
    {
        return Err(a.err(format!(
            "the input has {c} channels, the weight expects {pg} per group × {group} groups"
        )));
    }
    if let Some(b) = ins.shape(2)
        && let (Some(m), Some(n)) = (out_c, b.first().and_then(Dim::known))
        && (b.len() != 1 || m != n)
    {
        return Err(a.err(format!("the bias has {n} entries for {m} output channels")));
    }
    let mut wo = window(a, kernel, x.as_ref().map(|x| &x[2..]), group, false)?;
    wo.window.in_channels = in_c.or_else(|| per_group.and_then(|p| p.checked_mul(group)));
    wo.window.out_channels = out_c;
    let shape = x.as_ref().map(|x| {
        let mut v = vec![x[0].clone(), out_c.map_or(Dim::Unknown, Dim::Known)];
        v.extend(wo.spatial.iter().cloned());
        v
    });
    Ok(Outcome {
        kind: NodeKind::Conv(Box::new(wo.window)),
        shapes: vec![shape],
        dtypes: vec![ins.dtype(0)],
        hazards: wo.hazards,
    })
}

fn pool(a: &Attrs<'_>, ins: &Inputs<'_>, kind: PoolKind, nout: usize) -> Result<Outcome, Error> {
    let Some(kernel) = a.counts("kernel_shape", 1)? else {
        return Err(a.err("a pool needs kernel_shape"));
    };
    let s = kernel.len();
    let x = ins.shape(0).cloned();
    if let Some(x) = &x
        && x.len() != s + 2
    {
        return Err(a.err(format!(
            "the input has rank {}, the kernel {s} spatial axes",
            x.len()
        )));
    }
    let wo = window(a, kernel, x.as_ref().map(|x| &x[2..]), 1, true)?;
    let shape = x.as_ref().map(|x| {
        let mut v = x[..2].to_vec();
        v.extend(wo.spatial.iter().cloned());
        v
    });
    let mut shapes = vec![shape.clone()];
    shapes.resize(nout, shape);
    Ok(Outcome {
        kind: NodeKind::Pool(kind, Box::new(wo.window)),
        dtypes: vec![ins.dtype(0); nout],
        shapes,
        hazards: wo.hazards,
    })
}

/// Reshape-like ops: what happens to the trailing spatial axes.
fn reshape_kind(input: Option<&Shape>, output: Option<&Shape>, spatial: Option<usize>) -> NodeKind {
    let (Some(i), Some(o)) = (input, output) else {
        return unknown("a reshape whose shapes are not known");
    };
    let Some(s) = spatial_of(i.len(), spatial) else {
        // Not a feature map (e.g. after a Flatten): nothing spatial to move.
        return NodeKind::Pointwise(Pointwise::ChannelMix);
    };
    if o.len() > s && o[o.len() - s..] == i[i.len() - s..] {
        return NodeKind::Pointwise(Pointwise::ChannelMix);
    }
    if o.len() <= 2 {
        return NodeKind::Head(Head::Flatten);
    }
    unknown("a reshape that moves the spatial axes")
}

fn same_shape(ins: &Inputs<'_>, nout: usize, kind: NodeKind) -> Outcome {
    Outcome {
        kind,
        shapes: vec![ins.shape(0).cloned(); nout],
        dtypes: vec![ins.dtype(0); nout],
        hazards: Vec::new(),
    }
}

fn resize(
    a: &Attrs<'_>,
    ins: &mut Inputs<'_>,
    spatial: Option<usize>,
    opset: i64,
) -> Result<Outcome, Error> {
    let upsample = a.op == "Upsample";
    let mode = match a.string("mode").as_deref() {
        None | Some("nearest") => ResizeMode::Nearest,
        Some("linear" | "bilinear") => ResizeMode::Linear,
        Some("cubic") => ResizeMode::Cubic,
        Some(m) => return Err(a.err(format!("unknown mode {m:?}"))),
    };
    let x = ins.shape(0).cloned();
    let rank = x.as_ref().map(Vec::len);
    // Scales: an attribute (Upsample before opset 9), input 1 (Upsample, Resize 10) or
    // input 2 (Resize 11+); sizes: input 3 (Resize 11+).
    let (scales_at, sizes_at) = if upsample || opset < 11 {
        (Some(1), None)
    } else {
        (Some(2), Some(3))
    };
    let mut scales: Option<Vec<f64>> = a
        .floats("scales")
        .filter(|v| !v.is_empty())
        .map(|v| v.iter().map(|&f| f64::from(f)).collect());
    // An empty constant stands for an absent input.
    if scales.is_none()
        && let Some(i) = scales_at
    {
        scales = ins.floats(i)?.filter(|v| !v.is_empty());
    }
    let sizes = match sizes_at {
        Some(i) => ins.ints(i)?.filter(|v| !v.is_empty()),
        None => None,
    };
    let stretch = matches!(
        a.string("keep_aspect_ratio_policy").as_deref(),
        None | Some("stretch")
    );
    let axes: Option<Vec<usize>> = match (a.ints("axes"), rank) {
        (Some(v), Some(r)) => Some(v.iter().map(|&x| axis(a, x, r)).collect::<Result<_, _>>()?),
        (Some(_), None) => None,
        (None, Some(r)) => Some((0..r).collect()),
        (None, None) => None,
    };
    let mut out_shape = None;
    let mut per_axis: Option<Vec<f64>> = None;
    if let (Some(x), Some(axes)) = (&x, &axes) {
        let mut shape = x.clone();
        let mut sc = vec![1.0f64; x.len()];
        let mut ok = true;
        if let Some(s) = &scales {
            if s.len() != axes.len() {
                return Err(a.err(format!("{} scales for {} axes", s.len(), axes.len())));
            }
            for (&ax, &f) in axes.iter().zip(s) {
                if !(f.is_finite() && f > 0.0) {
                    return Err(a.err(format!("scale {f} is not positive")));
                }
                sc[ax] = f;
                shape[ax] = match x[ax].known() {
                    Some(n) => Dim::Known((n as f64 * f).floor() as u64),
                    None if f == 1.0 => x[ax].clone(),
                    None => Dim::Unknown,
                };
            }
        } else if let Some(sz) = &sizes {
            if sz.len() != axes.len() {
                return Err(a.err(format!("{} sizes for {} axes", sz.len(), axes.len())));
            }
            for (&ax, &n) in axes.iter().zip(sz) {
                let Ok(n) = u64::try_from(n) else {
                    return Err(a.err(format!("size {n} is negative")));
                };
                shape[ax] = Dim::Known(n);
                match x[ax].known() {
                    Some(i) if i > 0 && stretch => sc[ax] = n as f64 / i as f64,
                    Some(_) | None => ok = false,
                }
            }
        } else {
            ok = false;
            shape = x
                .iter()
                .enumerate()
                .map(|(i, d)| if i < 2 { d.clone() } else { Dim::Unknown })
                .collect();
        }
        out_shape = Some(shape);
        if ok {
            per_axis = Some(sc);
        }
    }
    let kind = match (&per_axis, rank.and_then(|r| spatial_of(r, spatial))) {
        (Some(sc), Some(s)) if sc[..sc.len() - s].iter().any(|&f| f != 1.0) => {
            unknown("a resize of the batch or channel axis")
        }
        (sc, Some(s)) => NodeKind::Resize(Resize {
            mode,
            scales: sc.as_ref().map(|sc| sc[sc.len() - s..].to_vec()),
            coordinate_transformation_mode: a
                .string("coordinate_transformation_mode")
                .unwrap_or_else(|| "half_pixel".into()),
        }),
        (_, None) => unknown("a resize of a tensor whose rank is not known"),
    };
    Ok(Outcome {
        kind,
        shapes: vec![out_shape],
        dtypes: vec![ins.dtype(0)],
        hazards: Vec::new(),
    })
}

fn pad(a: &Attrs<'_>, ins: &mut Inputs<'_>, spatial: Option<usize>) -> Result<Outcome, Error> {
    let mode = match a.string("mode").as_deref() {
        None | Some("constant") => PadMode::Constant,
        Some("reflect") => PadMode::Reflect,
        Some("edge") => PadMode::Edge,
        Some("wrap") => PadMode::Wrap,
        Some(m) => return Err(a.err(format!("unknown mode {m:?}"))),
    };
    let x = ins.shape(0).cloned();
    let pads: Option<Vec<i64>> = match a.ints("pads") {
        Some(p) => Some(p.to_vec()),
        None => ins.ints(1)?,
    };
    let axes_in = if ins.present(3) { ins.ints(3)? } else { None };
    let Some(x) = x else {
        return Ok(Outcome {
            kind: unknown("a pad of a tensor whose rank is not known"),
            shapes: vec![None],
            dtypes: vec![ins.dtype(0)],
            hazards: Vec::new(),
        });
    };
    let rank = x.len();
    let axes: Option<Vec<usize>> = if ins.present(3) {
        match axes_in {
            Some(v) => Some(
                v.iter()
                    .map(|&v| axis(a, v, rank))
                    .collect::<Result<_, _>>()?,
            ),
            None => None,
        }
    } else {
        Some((0..rank).collect())
    };
    let per_axis: Option<Vec<[i64; 2]>> = match (pads, &axes) {
        (Some(p), Some(axes)) => {
            let n = axes.len();
            if p.len() != 2 * n {
                return Err(a.err(format!("pads has {} entries for {n} axes", p.len())));
            }
            let mut v = vec![[0i64; 2]; rank];
            for (i, &ax) in axes.iter().enumerate() {
                v[ax] = [p[i], p[n + i]];
            }
            Some(v)
        }
        _ => None,
    };
    let shape = match &per_axis {
        Some(p) => {
            let mut s = Vec::with_capacity(rank);
            for (d, [b, e]) in x.iter().zip(p) {
                s.push(match d.known() {
                    Some(n) => {
                        let v = (n as i128) + i128::from(*b) + i128::from(*e);
                        if v < 0 {
                            return Err(a.err("the pads crop more than the input holds"));
                        }
                        Dim::Known(
                            u64::try_from(v).map_err(|_| a.err("the padded size overflows"))?,
                        )
                    }
                    None if *b == 0 && *e == 0 => d.clone(),
                    None => Dim::Unknown,
                });
            }
            Some(s)
        }
        None => None,
    };
    let kind = match spatial_of(rank, spatial) {
        Some(s) => NodeKind::Pad(Pad {
            mode,
            pads: per_axis.map(|p| p[rank - s..].to_vec()),
        }),
        None => NodeKind::Pointwise(Pointwise::ChannelMix),
    };
    Ok(Outcome {
        kind,
        shapes: vec![shape],
        dtypes: vec![ins.dtype(0)],
        hazards: Vec::new(),
    })
}

fn slice(a: &Attrs<'_>, ins: &mut Inputs<'_>, spatial: Option<usize>) -> Result<Outcome, Error> {
    let x = ins.shape(0).cloned();
    let Some(x) = x else {
        return Ok(same_unknown(
            ins,
            unknown("a slice of a tensor whose rank is not known"),
        ));
    };
    let rank = x.len();
    let consts: Vec<Option<Rc<Const>>> = (0..ins.ids.len())
        .map(|i| ins.konst(i))
        .collect::<Result<_, Error>>()?;
    let Some(params) = slice_params(a, &consts, rank)? else {
        let mut shape = x.clone();
        for d in shape.iter_mut().skip(1) {
            *d = Dim::Unknown;
        }
        return Ok(Outcome {
            kind: unknown("a slice whose bounds are computed at run time"),
            shapes: vec![Some(shape)],
            dtypes: vec![ins.dtype(0)],
            hazards: Vec::new(),
        });
    };
    let s = spatial_of(rank, spatial);
    let first_spatial = s.map_or(rank, |s| rank - s);
    let mut shape = x.clone();
    let mut starts: Option<Vec<u64>> = s.map(|s| vec![0; s]);
    let mut steps: Vec<u64> = vec![1; s.unwrap_or(0)];
    let mut reverses = false;
    let mut sliced_spatial = false;
    for (ax, st, en, step) in params {
        sliced_spatial |= ax >= first_spatial;
        match x[ax].known() {
            Some(d) => {
                let (b, e) = slice_range(d, st, en, step);
                shape[ax] = Dim::Known(slice_len(b, e, step));
                if ax >= first_spatial
                    && let Some(v) = starts.as_mut()
                {
                    v[ax - first_spatial] = b as u64;
                }
            }
            None => {
                // The end is clamped to a size not known: so is the length.
                shape[ax] = Dim::Unknown;
                if ax >= first_spatial {
                    match (starts.as_mut(), u64::try_from(st)) {
                        (Some(v), Ok(b)) if step > 0 => v[ax - first_spatial] = b,
                        _ => starts = None,
                    }
                }
            }
        }
        if ax >= first_spatial {
            if step < 0 {
                reverses = true;
            }
            steps[ax - first_spatial] = step.unsigned_abs();
        }
    }
    let kind = if reverses {
        unknown("a slice that reverses a spatial axis")
    } else if s.is_some() && sliced_spatial {
        NodeKind::Crop(Crop { starts, steps })
    } else {
        NodeKind::Pointwise(Pointwise::Identity)
    };
    Ok(Outcome {
        kind,
        shapes: vec![Some(shape)],
        dtypes: vec![ins.dtype(0)],
        hazards: Vec::new(),
    })
}

fn same_unknown(ins: &Inputs<'_>, kind: NodeKind) -> Outcome {
    Outcome {
        kind,
        shapes: vec![None],
        dtypes: vec![ins.dtype(0)],
        hazards: Vec::new(),
    }
}

fn split(a: &Attrs<'_>, ins: &mut Inputs<'_>, nout: usize) -> Result<Outcome, Error> {
    let x = ins.shape(0).cloned();
    let rank = x.as_ref().map_or(0, Vec::len);
    let ax = if x.is_some() {
        axis(a, a.int_or("axis", 0), rank)?
    } else {
        usize::try_from(a.int_or("axis", 0)).unwrap_or(0)
    };
    let explicit: Option<Vec<i64>> = match a.ints("split") {
        Some(v) if !v.is_empty() => Some(v.to_vec()),
        _ => {
            if ins.present(1) {
                ins.ints(1)?
            } else {
                None
            }
        }
    };
    let total = x.as_ref().and_then(|x| x[ax].known());
    let sizes: Option<Vec<u64>> = match explicit {
        Some(v) => {
            let s: Vec<u64> = v
                .iter()
                .map(|&n| {
                    u64::try_from(n).map_err(|_| a.err(format!("split size {n} is negative")))
                })
                .collect::<Result<_, _>>()?;
            if s.len() != nout {
                return Err(a.err(format!("{} split sizes for {nout} outputs", s.len())));
            }
            if let Some(t) = total
                && s.iter().try_fold(0u64, |acc, &n| acc.checked_add(n)) != Some(t)
            {
                return Err(a.err(format!("split sizes {s:?} do not add up to {t}")));
            }
            Some(s)
        }
        None => total.map(|t| {
            let parts = a
                .int("num_outputs")
                .map_or(nout as u64, |n| n.max(1) as u64);
            let chunk = t.div_ceil(parts);
            (0..nout as u64)
                .map(|i| chunk.min(t.saturating_sub(i * chunk)))
                .collect()
        }),
    };
    let shapes = (0..nout)
        .map(|i| {
            let mut s = x.clone()?;
            s[ax] = sizes.as_ref().map_or(Dim::Unknown, |v| Dim::Known(v[i]));
            Some(s)
        })
        .collect();
    Ok(Outcome {
        kind: NodeKind::Split { axis: ax, sizes },
        shapes,
        dtypes: vec![ins.dtype(0); nout],
        hazards: Vec::new(),
    })
}

fn concat(a: &Attrs<'_>, ins: &Inputs<'_>) -> Result<Outcome, Error> {
    let Some(ax0) = a.int("axis") else {
        return Err(a.err("Concat needs an `axis`"));
    };
    let shapes: Vec<Option<&Shape>> = (0..ins.ids.len())
        .filter(|&i| ins.present(i))
        .map(|i| ins.shape(i))
        .collect();
    let rank = shapes.iter().flatten().map(|s| s.len()).next();
    let Some(rank) = rank else {
        return Ok(Outcome {
            kind: NodeKind::Concat {
                axis: usize::try_from(ax0).unwrap_or(1),
            },
            shapes: vec![None],
            dtypes: vec![ins.dtype(0)],
            hazards: Vec::new(),
        });
    };
    let ax = axis(a, ax0, rank)?;
    let mut out: Option<Shape> = None;
    let mut sum = Some(0u64);
    for s in &shapes {
        let Some(s) = s else {
            sum = None;
            continue;
        };
        if s.len() != rank {
            return Err(a.err("inputs differ in rank"));
        }
        sum = sum.and_then(|t| t.checked_add(s[ax].known()?));
        match &mut out {
            None => out = Some((*s).clone()),
            Some(o) => {
                for (i, (x, y)) in o.iter_mut().zip(s.iter()).enumerate() {
                    if i == ax {
                        continue;
                    }
                    match (x.known(), y.known()) {
                        (Some(p), Some(q)) if p != q => {
                            return Err(a.err(format!(
                                "inputs differ on axis {i} ({p} and {q}), off the concatenation axis {ax}"
                            )));
                        }
                        (None, Some(q)) => *x = Dim::Known(q),
                        _ => {}
                    }
                }
            }
        }
    }
    if let Some(o) = &mut out {
        o[ax] = sum.map_or(Dim::Unknown, Dim::Known);
    }
    Ok(Outcome {
        kind: NodeKind::Concat { axis: ax },
        shapes: vec![out],
        dtypes: vec![ins.dtype(0)],
        hazards: Vec::new(),
    })
}

/// Axes a reduction covers (`None`: all of them).
fn reduce_axes(
    a: &Attrs<'_>,
    ins: &mut Inputs<'_>,
    rank: usize,
) -> Result<Option<Vec<usize>>, Error> {
    let raw = match a.ints("axes") {
        Some(v) => Some(v.to_vec()),
        None if ins.present(1) => match ins.ints(1)? {
            Some(v) => Some(v),
            None => return Err(a.err("reduction axes computed at run time")),
        },
        None => None,
    };
    match raw {
        Some(v) if !v.is_empty() => Ok(Some(
            v.iter()
                .map(|&x| axis(a, x, rank))
                .collect::<Result<_, _>>()?,
        )),
        Some(_) | None => {
            if a.int_or("noop_with_empty_axes", 0) != 0 {
                Ok(Some(Vec::new()))
            } else {
                Ok(None)
            }
        }
    }
}

fn reduce(a: &Attrs<'_>, ins: &mut Inputs<'_>, spatial: Option<usize>) -> Result<Outcome, Error> {
    let Some(x) = ins.shape(0).cloned() else {
        return Ok(same_unknown(
            ins,
            unknown("a reduction over a tensor whose rank is not known"),
        ));
    };
    let rank = x.len();
    let axes = match reduce_axes(a, ins, rank) {
        Ok(v) => v.unwrap_or_else(|| (0..rank).collect()),
        Err(Error::Node { reason, .. }) if reason.starts_with("reduction axes computed") => {
            return Ok(same_unknown(ins, unknown(reason)));
        }
        Err(e) => return Err(e),
    };
    let keep = a.int_or("keepdims", 1) != 0;
    let shape: Shape = x
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            if axes.contains(&i) {
                keep.then_some(Dim::Known(1))
            } else {
                Some(d.clone())
            }
        })
        .collect();
    let kind = match spatial_of(rank, spatial) {
        None => NodeKind::Pointwise(Pointwise::ChannelMix),
        Some(s) => {
            let sp: Vec<usize> = (rank - s..rank).collect();
            let all = sp.iter().all(|i| axes.contains(i));
            let none = sp.iter().all(|i| !axes.contains(i));
            if all {
                NodeKind::Global(Global::Reduce)
            } else if none {
                NodeKind::Pointwise(Pointwise::ChannelMix)
            } else {
                unknown("a reduction over part of the spatial axes")
            }
        }
    };
    Ok(Outcome {
        kind,
        shapes: vec![Some(shape)],
        dtypes: vec![ins.dtype(0)],
        hazards: Vec::new(),
    })
}

fn elementwise(a: &Attrs<'_>, ins: &Inputs<'_>, nout: usize) -> Result<Outcome, Error> {
    let op = a.op;
    let shapes: Vec<Option<&Shape>> = (0..ins.ids.len())
        .filter(|&i| ins.present(i))
        .map(|i| ins.shape(i))
        .collect();
    let shape = broadcast(a, &shapes)?;
    let data = ins.data_count();
    let kind = if data >= 2 {
        NodeKind::Merge(match op {
            "Add" | "Sum" => Merge::Sum,
            "Mul" => Merge::Product,
            _ => Merge::Other,
        })
    } else {
        NodeKind::Pointwise(match op {
            "Add" | "Sub" | "Mul" | "Div" | "Sum" => Pointwise::Affine,
            "PRelu" => Pointwise::PRelu,
            _ => Pointwise::Other,
        })
    };
    let dtype = match op {
        "Equal" | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual" | "And" | "Or" | "Xor" => {
            Some(DataType::Bool)
        }
        "Where" => ins.dtype(1),
        _ => ins.dtype(0),
    };
    Ok(Outcome {
        kind,
        shapes: vec![shape; nout],
        dtypes: vec![dtype; nout],
        hazards: Vec::new(),
    })
}

fn activation(a: &Attrs<'_>) -> Option<Pointwise> {
    Some(match a.op {
        "Relu" => Pointwise::Relu,
        "LeakyRelu" => Pointwise::LeakyRelu(a.float("alpha").unwrap_or(0.01)),
        "Gelu" => Pointwise::Gelu(a.string("approximate").as_deref() == Some("tanh")),
        "Tanh" => Pointwise::Tanh,
        "Sigmoid" => Pointwise::Sigmoid,
        "Clip" => Pointwise::Clip,
        "Identity" | "Dropout" | "Cast" | "CastLike" => Pointwise::Identity,
        "BatchNormalization" => Pointwise::BatchNorm,
        "LRN" => Pointwise::ChannelMix,
        "Elu" | "Selu" | "Celu" | "HardSigmoid" | "HardSwish" | "Softplus" | "Softsign"
        | "Mish" | "Erf" | "Exp" | "Log" | "Abs" | "Neg" | "Sqrt" | "Reciprocal" | "Floor"
        | "Ceil" | "Round" | "Sign" | "Sin" | "Cos" | "Not" | "IsNaN" | "IsInf"
        | "ThresholdedRelu" | "Shrink" | "QuantizeLinear" | "DequantizeLinear" => Pointwise::Other,
        _ => return None,
    })
}

/// Infers a data-path node. `spatial` is the graph's spatial rank, `opset` the default
/// domain's version.
pub(crate) fn infer(
    a: &Attrs<'_>,
    ins: &mut Inputs<'_>,
    nout: usize,
    spatial: Option<usize>,
    opset: i64,
) -> Result<Outcome, Error> {
    let op = a.op;
    if let Some(p) = activation(a) {
        let mut o = same_shape(ins, nout, NodeKind::Pointwise(p));
        if matches!(op, "Cast" | "CastLike") {
            let to = if op == "Cast" {
                a.int("to").and_then(|c| DataType::from_code(c as i32))
            } else {
                ins.dtype(1)
            };
            o.dtypes = vec![to; nout];
        }
        if op == "Dropout" && nout > 1 {
            o.dtypes[1] = Some(DataType::Bool);
        }
        if op == "BatchNormalization" && nout > 1 {
            let c = ins.shape(1).cloned();
            for s in o.shapes.iter_mut().skip(1) {
                *s = c.clone();
            }
        }
        return Ok(o);
    }
    Ok(match op {
        "Conv" => conv(a, ins)?,
        "MaxPool" => pool(a, ins, PoolKind::Max, nout)?,
        "AveragePool" => pool(a, ins, PoolKind::Average, nout)?,
        "LpPool" => pool(a, ins, PoolKind::Lp, nout)?,
        "GlobalAveragePool" | "GlobalMaxPool" | "GlobalLpPool" => {
            let shape = ins.shape(0).map(|x| {
                let mut v = x.clone();
                for d in v.iter_mut().skip(2) {
                    *d = Dim::Known(1);
                }
                v
            });
            Outcome {
                kind: NodeKind::Global(Global::Pool),
                shapes: vec![shape],
                dtypes: vec![ins.dtype(0)],
                hazards: Vec::new(),
            }
        }
        "InstanceNormalization" | "GroupNormalization" | "MeanVarianceNormalization" => {
            same_shape(ins, nout, NodeKind::Global(Global::Normalization))
        }
        "LayerNormalization" => {
            let rank = ins.shape(0).map(Vec::len);
            let kind = match rank {
                None => unknown("a layer normalisation of a tensor whose rank is not known"),
                Some(r) => {
                    let ax = axis(a, a.int_or("axis", -1), r)?;
                    match spatial_of(r, spatial) {
                        None => NodeKind::Pointwise(Pointwise::ChannelMix),
                        Some(s) if ax <= r - s => NodeKind::Global(Global::Normalization),
                        Some(_) => unknown("a normalisation over part of the spatial axes"),
                    }
                }
            };
            let mut o = same_shape(ins, 1, kind);
            o.shapes.resize(nout, None);
            o.dtypes.resize(nout, None);
            o
        }
        "Resize" | "Upsample" => resize(a, ins, spatial, opset)?,
        "Pad" => pad(a, ins, spatial)?,
        "Slice" => slice(a, ins, spatial)?,
        "Split" => split(a, ins, nout)?,
        "Concat" => concat(a, ins)?,
        "ReduceMean" | "ReduceMax" | "ReduceMin" | "ReduceSum" | "ReduceProd" | "ReduceL1"
        | "ReduceL2" | "ReduceLogSum" | "ReduceLogSumExp" | "ReduceSumSquare" => {
            reduce(a, ins, spatial)?
        }
        "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Max" | "Min" | "Mean" | "Sum" | "And" | "Or"
        | "Xor" | "Equal" | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual" | "Mod"
        | "PRelu" | "Where" | "BitShift" => elementwise(a, ins, nout)?,
        "Softmax" | "LogSoftmax" | "Hardmax" => {
            let rank = ins.shape(0).map(Vec::len);
            let default = if opset < 13 { 1 } else { -1 };
            let kind = match rank {
                None => unknown("a softmax of a tensor whose rank is not known"),
                Some(r) => {
                    let ax = axis(a, a.int_or("axis", default), r)?;
                    match spatial_of(r, spatial) {
                        None => NodeKind::Pointwise(Pointwise::ChannelMix),
                        // Before opset 13 the input is flattened from `axis` on.
                        Some(_) if ax == 1 && opset >= 13 => {
                            NodeKind::Pointwise(Pointwise::ChannelMix)
                        }
                        Some(_) if ax == 1 => {
                            let sp = &ins.shape(0).map_or(&[][..], |s| &s[2..]);
                            if sp.iter().all(|d| d.known() == Some(1)) {
                                NodeKind::Pointwise(Pointwise::ChannelMix)
                            } else {
                                NodeKind::Global(Global::Normalization)
                            }
                        }
                        Some(_) => unknown("a softmax over a spatial axis"),
                    }
                }
            };
            same_shape(ins, nout, kind)
        }
        "Flatten" => {
            let shape = match ins.shape(0) {
                Some(x) => {
                    let ax = axis(a, a.int_or("axis", 1), x.len() + 1)?;
                    Some(vec![product(&x[..ax]), product(&x[ax..])])
                }
                None => None,
            };
            let kind = reshape_kind(ins.shape(0), shape.as_ref(), spatial);
            Outcome {
                kind,
                shapes: vec![shape],
                dtypes: vec![ins.dtype(0)],
                hazards: Vec::new(),
            }
        }
        "Reshape" => {
            let target = ins.ints(1)?;
            let x = ins.shape(0).cloned();
            let shape = match (&x, &target) {
                (Some(x), Some(t)) => match x.iter().map(Dim::known).collect::<Option<Vec<_>>>() {
                    Some(k) => Some(known_shape(&reshape_dims(a, &k, t)?)),
                    None => Some(
                        t.iter()
                            .enumerate()
                            .map(|(i, &v)| match v {
                                0 if a.int_or("allowzero", 0) == 0 => {
                                    x.get(i).cloned().unwrap_or(Dim::Unknown)
                                }
                                v if v > 0 => Dim::Known(v as u64),
                                _ => Dim::Unknown,
                            })
                            .collect(),
                    ),
                },
                _ => None,
            };
            let kind = reshape_kind(x.as_ref(), shape.as_ref(), spatial);
            Outcome {
                kind,
                shapes: vec![shape],
                dtypes: vec![ins.dtype(0)],
                hazards: Vec::new(),
            }
        }
        "Transpose" => {
            let x = ins.shape(0).cloned();
            let (shape, kind) = match x {
                None => (
                    None,
                    unknown("a transpose of a tensor whose rank is not known"),
                ),
                Some(x) => {
                    let r = x.len();
                    let perm: Vec<usize> = match a.ints("perm") {
                        Some(p) => p.iter().map(|&v| axis(a, v, r)).collect::<Result<_, _>>()?,
                        None => (0..r).rev().collect(),
                    };
                    let mut seen = vec![false; r];
                    if perm.len() != r
                        || perm.iter().any(|&p| std::mem::replace(&mut seen[p], true))
                    {
                        return Err(
                            a.err(format!("perm {perm:?} is not a permutation of {r} axes"))
                        );
                    }
                    let shape: Shape = perm.iter().map(|&p| x[p].clone()).collect();
                    let kind = match spatial_of(r, spatial) {
                        None => NodeKind::Pointwise(Pointwise::ChannelMix),
                        Some(s) if (r - s..r).all(|i| perm[i] == i) => {
                            NodeKind::Pointwise(Pointwise::ChannelMix)
                        }
                        Some(_) => unknown("a transpose that moves the spatial axes"),
                    };
                    (Some(shape), kind)
                }
            };
            Outcome {
                kind,
                shapes: vec![shape],
                dtypes: vec![ins.dtype(0)],
                hazards: Vec::new(),
            }
        }
        "Squeeze" | "Unsqueeze" => {
            let x = ins.shape(0).cloned();
            let axes: Option<Vec<i64>> = match a.ints("axes") {
                Some(v) => Some(v.to_vec()),
                None if ins.present(1) => ins.ints(1)?,
                None => None,
            };
            let shape = match (&x, &axes) {
                (Some(x), Some(axes)) if op == "Unsqueeze" => {
                    Some(unsqueeze_dims(a, x, axes, Dim::Known(1))?)
                }
                (Some(x), Some(axes)) => {
                    let r = x.len();
                    let drop: Vec<usize> = axes
                        .iter()
                        .map(|&v| axis(a, v, r))
                        .collect::<Result<_, _>>()?;
                    Some(
                        x.iter()
                            .enumerate()
                            .filter(|(i, _)| !drop.contains(i))
                            .map(|(_, d)| d.clone())
                            .collect(),
                    )
                }
                (Some(x), None) if op == "Squeeze" => {
                    if x.iter().all(|d| d.known().is_some()) {
                        Some(x.iter().filter(|d| d.known() != Some(1)).cloned().collect())
                    } else {
                        None
                    }
                }
                _ => None,
            };
            let kind = reshape_kind(x.as_ref(), shape.as_ref(), spatial);
            Outcome {
                kind,
                shapes: vec![shape],
                dtypes: vec![ins.dtype(0)],
                hazards: Vec::new(),
            }
        }
        "Gemm" => {
            let (sa, sb) = (ins.shape(0), ins.shape(1));
            let ta = a.int_or("transA", 0) != 0;
            let tb = a.int_or("transB", 0) != 0;
            let shape = match (sa, sb) {
                (Some(x), Some(w)) if x.len() == 2 && w.len() == 2 => {
                    let m = if ta { x[1].clone() } else { x[0].clone() };
                    let n = if tb { w[0].clone() } else { w[1].clone() };
                    Some(vec![m, n])
                }
                (Some(x), _) if x.len() != 2 => {
                    return Err(a.err(format!("Gemm takes a matrix, got rank {}", x.len())));
                }
                _ => None,
            };
            Outcome {
                kind: NodeKind::Head(Head::Gemm),
                shapes: vec![shape],
                dtypes: vec![ins.dtype(0)],
                hazards: Vec::new(),
            }
        }
        "MatMul" => {
            let (sa, sb) = (ins.shape(0).cloned(), ins.shape(1).cloned());
            let shape = match (&sa, &sb) {
                (Some(x), Some(w)) if x.len() >= 2 && w.len() >= 2 => {
                    let bx = &x[..x.len() - 2];
                    let bw = &w[..w.len() - 2];
                    let mut s = broadcast(a, &[Some(&bx.to_vec()), Some(&bw.to_vec())])?
                        .unwrap_or_default();
                    s.push(x[x.len() - 2].clone());
                    s.push(w[w.len() - 1].clone());
                    Some(s)
                }
                _ => None,
            };
            let kind = match sa.as_ref().map(Vec::len) {
                Some(r) if spatial_of(r, spatial).is_some() => {
                    unknown("a matrix product over a spatial axis")
                }
                Some(_) => NodeKind::Head(Head::MatMul),
                None => unknown("a matrix product of a tensor whose rank is not known"),
            };
            Outcome {
                kind,
                shapes: vec![shape],
                dtypes: vec![ins.dtype(0)],
                hazards: Vec::new(),
            }
        }
        "Expand" => {
            let x = ins.shape(0).cloned();
            let target = ins.ints(1)?;
            let shape = match (&x, &target) {
                (Some(x), Some(t)) => {
                    let t: Shape = t
                        .iter()
                        .map(|&d| u64::try_from(d).map(Dim::Known))
                        .collect::<Result<_, _>>()
                        .map_err(|_| a.err("negative dimension in the target shape"))?;
                    broadcast(a, &[Some(x), Some(&t)])?
                }
                _ => None,
            };
            let kind = match (&x, &shape) {
                (Some(x), Some(o)) => match spatial_of(x.len(), spatial) {
                    None => NodeKind::Pointwise(Pointwise::ChannelMix),
                    Some(s)
                        if o.len() == x.len()
                            && (o[o.len() - s..] == x[x.len() - s..]
                                || x[x.len() - s..].iter().all(|d| d.known() == Some(1))) =>
                    {
                        NodeKind::Pointwise(Pointwise::Identity)
                    }
                    Some(_) => unknown("an expand along a spatial axis"),
                },
                _ => unknown("an expand to a shape computed at run time"),
            };
            Outcome {
                kind,
                shapes: vec![shape],
                dtypes: vec![ins.dtype(0)],
                hazards: Vec::new(),
            }
        }
        "Shape" => {
            let n = ins.shape(0).map(|x| x.len() as u64);
            Outcome {
                kind: unknown("the shape of a tensor whose shape is not static"),
                shapes: vec![n.map(|n| vec![Dim::Known(n)])],
                dtypes: vec![Some(DataType::Int64)],
                hazards: Vec::new(),
            }
        }
        "Size" => Outcome {
            kind: unknown("the size of a tensor whose shape is not static"),
            shapes: vec![Some(Vec::new())],
            dtypes: vec![Some(DataType::Int64)],
            hazards: Vec::new(),
        },
        _ => Outcome {
            kind: unknown(format!("operator {op} has no known window")),
            shapes: vec![None; nout],
            dtypes: vec![None; nout],
            hazards: Vec::new(),
        },
    })
}

/// Folds `Shape` / `Size` of a tensor whose (needed) dimensions are fixed.
pub(crate) fn fold_shape(a: &Attrs<'_>, input: Option<&Shape>) -> Result<Option<Const>, Error> {
    let Some(x) = input else { return Ok(None) };
    let r = x.len() as i64;
    if a.op == "Size" {
        return Ok(match product(x) {
            Dim::Known(n) => Some(Const {
                dtype: DataType::Int64,
                dims: Vec::new(),
                elems: crate::fold::Elems::List(vec![crate::tensor::Scalar::Int(n as i64)]),
            }),
            Dim::Symbol(_) | Dim::Unknown => None,
        });
    }
    let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let start = clamp(a.int_or("start", 0));
    let end = clamp(a.int_or("end", r));
    let part = if start < end { &x[start..end] } else { &[][..] };
    let Some(dims) = part
        .iter()
        .map(|d| d.known().and_then(|v| i64::try_from(v).ok()))
        .collect::<Option<Vec<_>>>()
    else {
        return Ok(None);
    };
    Ok(Some(Const {
        dtype: DataType::Int64,
        dims: vec![dims.len() as u64],
        elems: crate::fold::Elems::List(dims.into_iter().map(crate::tensor::Scalar::Int).collect()),
    }))
}
