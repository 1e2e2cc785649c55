//! Constant folding: the Shape / Gather / Constant / Unsqueeze / Concat / Cast / Slice /
//! Reshape / ConstantOfShape chains that `torch.onnx.export` writes (both exporters), the
//! integer arithmetic between them, and `ConstantOfShape` weights (kept as splats, never
//! expanded). Every folded tensor holds at most [`MAX_FOLD_ELEMENTS`] elements (splats
//! excepted) and all of them together at most [`MAX_FOLD_TOTAL`]: past that a node stays
//! on the data path instead of being folded.

use std::rc::Rc;

use crate::attrs::Attrs;
use crate::error::Error;
use crate::tensor::{DataType, Scalar, Tensor, element_count};
use crate::{MAX_FOLD_ELEMENTS, MAX_FOLD_TOTAL, MAX_RANK};

/// The elements of a constant being folded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Elems {
    /// Every element equal (however many there are).
    Splat(Scalar),
    /// Every element, row-major.
    List(Vec<Scalar>),
}

/// A constant being folded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Const {
    pub(crate) dtype: DataType,
    pub(crate) dims: Vec<u64>,
    pub(crate) elems: Elems,
}

/// The folder's running total of elements made, against [`MAX_FOLD_TOTAL`].
#[derive(Debug, Default)]
pub(crate) struct Budget {
    pub(crate) used: u64,
}

/// Folding gives up on this node (too large, a type it does not compute with, an
/// arithmetic overflow): it stays on the data path.
pub(crate) type Fold<T> = Result<Option<T>, Error>;

impl Const {
    /// A constant from a tensor; `None` when it is neither a splat nor small enough.
    pub(crate) fn from_tensor(t: &Tensor, name: &str) -> Fold<Self> {
        if !t.dtype().is_real() {
            return Ok(None);
        }
        if let Some(v) = t.splat_value() {
            return Ok(Some(Self {
                dtype: t.dtype(),
                dims: t.dims().to_vec(),
                elems: Elems::Splat(v),
            }));
        }
        if t.len() > MAX_FOLD_ELEMENTS {
            return Ok(None);
        }
        Ok(Some(Self {
            dtype: t.dtype(),
            dims: t.dims().to_vec(),
            elems: Elems::List(t.scalars(name, MAX_FOLD_ELEMENTS)?),
        }))
    }

    /// The tensor this constant is.
    pub(crate) fn into_tensor(self) -> Tensor {
        let len = element_count(&self.dims).unwrap_or(0);
        match self.elems {
            Elems::Splat(v) => Tensor::splat(self.dtype, self.dims, len, v),
            Elems::List(v) => {
                if self.dtype.is_integer() {
                    let ints = v
                        .into_iter()
                        .map(|s| match s {
                            Scalar::Int(i) => i,
                            Scalar::Float(f) => f as i64,
                        })
                        .collect();
                    Tensor::ints(self.dtype, self.dims, ints)
                } else {
                    let floats = v.into_iter().map(Scalar::as_f64).collect();
                    Tensor::floats(self.dtype, self.dims, floats)
                }
            }
        }
    }

    pub(crate) fn len(&self) -> u64 {
        element_count(&self.dims).unwrap_or(u64::MAX)
    }

    /// The `i`-th element (row-major).
    fn at(&self, i: usize) -> Scalar {
        match &self.elems {
            Elems::Splat(v) => *v,
            Elems::List(v) => v[i],
        }
    }

    /// The elements as integers, for shape-like inputs (axes, shapes, pads, indices).
    pub(crate) fn ints(&self) -> Option<Vec<i64>> {
        let n = self.len();
        if n > MAX_FOLD_ELEMENTS {
            return None;
        }
        (0..n as usize)
            .map(|i| match self.at(i) {
                Scalar::Int(v) => Some(v),
                Scalar::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(f as i64),
                Scalar::Float(_) => None,
            })
            .collect()
    }

    /// The elements as reals (scales).
    pub(crate) fn floats(&self) -> Option<Vec<f64>> {
        let n = self.len();
        if n > MAX_FOLD_ELEMENTS {
            return None;
        }
        Some((0..n as usize).map(|i| self.at(i).as_f64()).collect())
    }

    fn list(dtype: DataType, dims: Vec<u64>, v: Vec<Scalar>) -> Self {
        Self {
            dtype,
            dims,
            elems: Elems::List(v),
        }
    }
}

/// Charges `n` elements to the budget; `false` when the budget (or the per-tensor limit)
/// would be exceeded.
fn charge(budget: &mut Budget, n: u64) -> bool {
    if n > MAX_FOLD_ELEMENTS {
        return false;
    }
    match budget.used.checked_add(n) {
        Some(t) if t <= MAX_FOLD_TOTAL => {
            budget.used = t;
            true
        }
        Some(_) | None => false,
    }
}

/// Row-major strides of `dims`.
fn strides(dims: &[u64]) -> Vec<usize> {
    let mut s = vec![1usize; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * dims[i + 1] as usize;
    }
    s
}

/// Normalises a possibly negative axis against `rank`.
pub(crate) fn axis(a: &Attrs<'_>, v: i64, rank: usize) -> Result<usize, Error> {
    let r = rank as i64;
    if v < -r || v >= r {
        return Err(a.err(format!("axis {v} is out of range for rank {rank}")));
    }
    Ok(if v < 0 { (v + r) as usize } else { v as usize })
}

/// Numpy broadcasting of fixed shapes.
pub(crate) fn broadcast(a: &Attrs<'_>, shapes: &[&[u64]]) -> Result<Vec<u64>, Error> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1u64; rank];
    for s in shapes {
        let off = rank - s.len();
        for (i, &d) in s.iter().enumerate() {
            let o = &mut out[off + i];
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                return Err(a.err(format!("shapes {shapes:?} do not broadcast")));
            }
        }
    }
    Ok(out)
}

/// Index into `c` (of dims broadcast to `out`) for the output's multi-index `idx`.
fn bcast_index(c: &Const, out: &[u64], idx: &[usize]) -> usize {
    if matches!(c.elems, Elems::Splat(_)) {
        return 0;
    }
    let off = out.len() - c.dims.len();
    let st = strides(&c.dims);
    let mut i = 0;
    for (k, &d) in c.dims.iter().enumerate() {
        if d != 1 {
            i += idx[off + k] * st[k];
        }
    }
    i
}

/// Calls `f` with every multi-index of `dims`, row-major.
fn for_each_index(dims: &[u64], mut f: impl FnMut(&[usize])) {
    let n: u64 = dims.iter().product();
    let mut idx = vec![0usize; dims.len()];
    for _ in 0..n {
        f(&idx);
        for k in (0..dims.len()).rev() {
            idx[k] += 1;
            if (idx[k] as u64) < dims[k] {
                break;
            }
            idx[k] = 0;
        }
    }
}

fn int_op(op: &str, x: i64, y: i64, fmod: bool) -> Option<Scalar> {
    Some(Scalar::Int(match op {
        "Add" | "Sum" => x.checked_add(y)?,
        "Sub" => x.checked_sub(y)?,
        "Mul" => x.checked_mul(y)?,
        "Div" => x.checked_div(y)?,
        "Mod" => {
            let r = x.checked_rem(y)?;
            if !fmod && r != 0 && ((r < 0) != (y < 0)) {
                r + y
            } else {
                r
            }
        }
        "Max" => x.max(y),
        "Min" => x.min(y),
        "Pow" => x.checked_pow(u32::try_from(y).ok()?)?,
        "Equal" => i64::from(x == y),
        "Less" => i64::from(x < y),
        "Greater" => i64::from(x > y),
        "LessOrEqual" => i64::from(x <= y),
        "GreaterOrEqual" => i64::from(x >= y),
        "And" => i64::from(x != 0 && y != 0),
        "Or" => i64::from(x != 0 || y != 0),
        "Xor" => i64::from((x != 0) != (y != 0)),
        _ => return None,
    }))
}

fn float_op(op: &str, x: f64, y: f64, fmod: bool) -> Option<Scalar> {
    let b = |c: bool| Scalar::Int(i64::from(c));
    Some(match op {
        "Add" | "Sum" => Scalar::Float(x + y),
        "Sub" => Scalar::Float(x - y),
        "Mul" => Scalar::Float(x * y),
        "Div" => Scalar::Float(x / y),
        "Mod" if fmod => Scalar::Float(x % y),
        "Max" => Scalar::Float(x.max(y)),
        "Min" => Scalar::Float(x.min(y)),
        "Pow" => Scalar::Float(x.powf(y)),
        "Equal" => b(x == y),
        "Less" => b(x < y),
        "Greater" => b(x > y),
        "LessOrEqual" => b(x <= y),
        "GreaterOrEqual" => b(x >= y),
        _ => return None,
    })
}

fn is_compare(op: &str) -> bool {
    matches!(
        op,
        "Equal" | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual" | "And" | "Or" | "Xor"
    )
}

/// Converts a value to `to`.
fn cast(v: Scalar, to: DataType) -> Scalar {
    let f = v.as_f64();
    match to {
        DataType::Float | DataType::Float16 | DataType::Bfloat16 => {
            Scalar::Float(f64::from(f as f32))
        }
        DataType::Double => Scalar::Float(f),
        DataType::Bool => Scalar::Int(i64::from(f != 0.0)),
        DataType::Int8
        | DataType::Uint8
        | DataType::Int16
        | DataType::Uint16
        | DataType::Int32
        | DataType::Uint32
        | DataType::Int64
        | DataType::Uint64 => {
            let i = match v {
                Scalar::Int(i) => i,
                Scalar::Float(x) => x as i64,
            };
            Scalar::Int(match to {
                DataType::Int8 => i64::from(i as i8),
                DataType::Uint8 => i64::from(i as u8),
                DataType::Int16 => i64::from(i as i16),
                DataType::Uint16 => i64::from(i as u16),
                DataType::Int32 => i64::from(i as i32),
                DataType::Uint32 => i64::from(i as u32),
                DataType::Int64
                | DataType::Uint64
                | DataType::Float
                | DataType::String
                | DataType::Bool
                | DataType::Float16
                | DataType::Double
                | DataType::Complex64
                | DataType::Complex128
                | DataType::Bfloat16
                | DataType::Narrow(_) => i,
            })
        }
        DataType::String | DataType::Complex64 | DataType::Complex128 | DataType::Narrow(_) => v,
    }
}

/// Element-wise op over broadcast inputs.
fn elementwise(a: &Attrs<'_>, op: &str, ins: &[&Const], budget: &mut Budget) -> Fold<Const> {
    let shapes: Vec<&[u64]> = ins.iter().map(|c| c.dims.as_slice()).collect();
    let dims = broadcast(a, &shapes)?;
    let Some(n) = element_count(&dims) else {
        return Ok(None);
    };
    let fmod = a.int_or("fmod", 0) != 0;
    let dtype = if is_compare(op) {
        DataType::Bool
    } else if op == "Where" {
        ins[1].dtype
    } else {
        ins[0].dtype
    };
    let int = ins.iter().all(|c| c.dtype.is_integer());
    let apply = |xs: &[Scalar]| -> Option<Scalar> {
        if op == "Where" {
            return Some(if xs[0].as_f64() != 0.0 { xs[1] } else { xs[2] });
        }
        let mut acc = xs[0];
        for &y in &xs[1..] {
            acc = match (int, acc, y) {
                (true, Scalar::Int(p), Scalar::Int(q)) => int_op(op, p, q, fmod)?,
                _ => float_op(op, acc.as_f64(), y.as_f64(), fmod)?,
            };
        }
        Some(acc)
    };
    if ins.iter().all(|c| matches!(c.elems, Elems::Splat(_))) {
        let xs: Vec<Scalar> = ins.iter().map(|c| c.at(0)).collect();
        let Some(v) = apply(&xs) else {
            return Ok(None);
        };
        return Ok(Some(Const {
            dtype,
            dims,
            elems: Elems::Splat(v),
        }));
    }
    if !charge(budget, n) {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(n as usize);
    let mut ok = true;
    let mut xs = Vec::with_capacity(ins.len());
    for_each_index(&dims, |idx| {
        if !ok {
            return;
        }
        xs.clear();
        xs.extend(ins.iter().map(|c| c.at(bcast_index(c, &dims, idx))));
        match apply(&xs) {
            Some(v) => out.push(v),
            None => ok = false,
        }
    });
    Ok(ok.then(|| Const::list(dtype, dims, out)))
}

fn unary(op: &str, c: &Const, budget: &mut Budget) -> Fold<Const> {
    let f = |v: Scalar| -> Option<Scalar> {
        Some(match (op, v) {
            ("Neg", Scalar::Int(i)) => Scalar::Int(i.checked_neg()?),
            ("Abs", Scalar::Int(i)) => Scalar::Int(i.checked_abs()?),
            ("Not", Scalar::Int(i)) => Scalar::Int(i64::from(i == 0)),
            ("Floor" | "Ceil" | "Round", Scalar::Int(i)) => Scalar::Int(i),
            ("Relu", Scalar::Int(i)) => Scalar::Int(i.max(0)),
            ("Neg", Scalar::Float(x)) => Scalar::Float(-x),
            ("Abs", Scalar::Float(x)) => Scalar::Float(x.abs()),
            ("Floor", Scalar::Float(x)) => Scalar::Float(x.floor()),
            ("Ceil", Scalar::Float(x)) => Scalar::Float(x.ceil()),
            ("Round", Scalar::Float(x)) => Scalar::Float(x.round_ties_even()),
            ("Sqrt", v) => Scalar::Float(v.as_f64().sqrt()),
            ("Reciprocal", v) => Scalar::Float(1.0 / v.as_f64()),
            ("Relu", Scalar::Float(x)) => Scalar::Float(if x < 0.0 { 0.0 } else { x }),
            _ => return None,
        })
    };
    map_elems(c, c.dtype, budget, f)
}

fn map_elems(
    c: &Const,
    dtype: DataType,
    budget: &mut Budget,
    f: impl Fn(Scalar) -> Option<Scalar>,
) -> Fold<Const> {
    match &c.elems {
        Elems::Splat(v) => Ok(f(*v).map(|v| Const {
            dtype,
            dims: c.dims.clone(),
            elems: Elems::Splat(v),
        })),
        Elems::List(v) => {
            if !charge(budget, v.len() as u64) {
                return Ok(None);
            }
            Ok(v.iter()
                .map(|&x| f(x))
                .collect::<Option<Vec<_>>>()
                .map(|v| Const::list(dtype, c.dims.clone(), v)))
        }
    }
}

/// The same elements under new dimensions.
fn with_dims(c: &Const, dims: Vec<u64>, budget: &mut Budget) -> Fold<Const> {
    if dims.len() > MAX_RANK || element_count(&dims) != Some(c.len()) {
        return Ok(None);
    }
    if let Elems::List(v) = &c.elems
        && !charge(budget, v.len() as u64)
    {
        return Ok(None);
    }
    Ok(Some(Const {
        dtype: c.dtype,
        dims,
        elems: c.elems.clone(),
    }))
}

/// Reads elements of `c` at the given source indices (a gather, slice, transpose, …),
/// keeping a splat a splat.
fn pick(
    c: &Const,
    dims: Vec<u64>,
    budget: &mut Budget,
    src: impl Fn(&[usize]) -> usize,
) -> Fold<Const> {
    if let Elems::Splat(v) = c.elems {
        return Ok(Some(Const {
            dtype: c.dtype,
            dims,
            elems: Elems::Splat(v),
        }));
    }
    let Some(n) = element_count(&dims) else {
        return Ok(None);
    };
    if !charge(budget, n) {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(n as usize);
    for_each_index(&dims, |idx| out.push(c.at(src(idx))));
    Ok(Some(Const::list(c.dtype, dims, out)))
}

/// Most entries of a shape-like list (a shape, axes, pads: two per axis): longer lists
/// are not read (a node reading one is not folded and its shapes stay unknown), so no
/// node costs more than this to read them.
pub(crate) const SHAPE_LIKE: u64 = 2 * MAX_RANK as u64;

/// An integer list input (axes, shape, pads, …) from the constant at `i`, at most
/// [`SHAPE_LIKE`] entries.
pub(crate) fn int_input(ins: &[Option<Rc<Const>>], i: usize) -> Option<Vec<i64>> {
    let c = ins.get(i)?.as_ref()?;
    if c.len() > SHAPE_LIKE {
        return None;
    }
    c.ints()
}

/// Resolves a `Reshape` target against the input's dims (0 copies, −1 infers).
pub(crate) fn reshape_dims(
    a: &Attrs<'_>,
    input: &[u64],
    target: &[i64],
) -> Result<Vec<u64>, Error> {
    let allowzero = a.int_or("allowzero", 0) != 0;
    let total = element_count(input).ok_or_else(|| a.err("input size overflows"))?;
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            -1 => {
                if infer.replace(i).is_some() {
                    return Err(a.err("the shape holds -1 twice"));
                }
                out.push(1);
            }
            0 if !allowzero => {
                let Some(&d) = input.get(i) else {
                    return Err(a.err(format!(
                        "shape entry {i} copies a dimension the input lacks"
                    )));
                };
                out.push(d);
            }
            t if t >= 0 => out.push(t as u64),
            t => return Err(a.err(format!("shape entry {t} is negative"))),
        }
    }
    let known = element_count(&out).ok_or_else(|| a.err("target size overflows"))?;
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(a.err(format!(
                "cannot reshape {input:?} ({total} elements) to {target:?}"
            )));
        }
        out[i] = total / known;
    } else if known != total {
        return Err(a.err(format!(
            "cannot reshape {input:?} ({total} elements) to {target:?}"
        )));
    }
    Ok(out)
}

/// Clamped `[start, end)` and step of a slice along an axis of size `d` (ONNX's rules).
pub(crate) fn slice_range(d: u64, start: i64, end: i64, step: i64) -> (i64, i64) {
    let d = d as i64;
    let norm = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
    if step > 0 {
        (norm(start).clamp(0, d), norm(end).clamp(0, d))
    } else {
        (norm(start).clamp(0, d - 1), norm(end).clamp(-1, d - 1))
    }
}

/// Length of a clamped slice.
pub(crate) fn slice_len(start: i64, end: i64, step: i64) -> u64 {
    let span = if step > 0 { end - start } else { start - end };
    if span <= 0 {
        0
    } else {
        (span as u64).div_ceil(step.unsigned_abs())
    }
}

/// The `starts`, `ends`, `axes`, `steps` of a Slice (attributes before opset 10, inputs
/// from it on); `None` when an input is not constant.
/// One sliced axis: `(axis, start, end, step)`, as written (not clamped).
pub(crate) type SliceAxis = (usize, i64, i64, i64);

pub(crate) fn slice_params(
    a: &Attrs<'_>,
    ins: &[Option<Rc<Const>>],
    rank: usize,
) -> Result<Option<Vec<SliceAxis>>, Error> {
    let (starts, ends, axes, steps) = if let Some(s) = a.ints("starts") {
        (
            s.to_vec(),
            a.ints("ends").unwrap_or(&[]).to_vec(),
            a.ints("axes").map(<[i64]>::to_vec),
            None,
        )
    } else {
        let (Some(s), Some(e)) = (int_input(ins, 1), int_input(ins, 2)) else {
            return Ok(None);
        };
        let axes = match ins.get(3) {
            Some(Some(_)) => match int_input(ins, 3) {
                Some(v) => Some(v),
                None => return Ok(None),
            },
            Some(None) | None => None,
        };
        let steps = match ins.get(4) {
            Some(Some(_)) => match int_input(ins, 4) {
                Some(v) => Some(v),
                None => return Ok(None),
            },
            Some(None) | None => None,
        };
        (s, e, axes, steps)
    };
    let n = starts.len();
    let axes = axes.unwrap_or_else(|| (0..n as i64).collect());
    let steps = steps.unwrap_or_else(|| vec![1; n]);
    if ends.len() != n || axes.len() != n || steps.len() != n {
        return Err(a.err("starts, ends, axes and steps differ in length"));
    }
    let mut out: Vec<SliceAxis> = Vec::with_capacity(n);
    for i in 0..n {
        if steps[i] == 0 {
            return Err(a.err("a slice step is 0"));
        }
        let ax = axis(a, axes[i], rank)?;
        if out.iter().any(|&(x, ..)| x == ax) {
            return Err(a.err(format!("axis {ax} is sliced twice")));
        }
        out.push((ax, starts[i], ends[i], steps[i]));
    }
    Ok(Some(out))
}

/// Unsqueeze's output dims.
pub(crate) fn unsqueeze_dims<T: Clone>(
    a: &Attrs<'_>,
    input: &[T],
    axes: &[i64],
    one: T,
) -> Result<Vec<T>, Error> {
    let rank = input.len() + axes.len();
    let mut mark = vec![false; rank];
    for &x in axes {
        let ax = axis(a, x, rank)?;
        if std::mem::replace(&mut mark[ax], true) {
            return Err(a.err(format!("axis {ax} is listed twice")));
        }
    }
    let mut it = input.iter();
    Ok(mark
        .iter()
        .map(|&m| {
            if m {
                one.clone()
            } else {
                it.next().cloned().unwrap_or_else(|| one.clone())
            }
        })
        .collect())
}

/// A reduction of a real constant (the weight-norm chain `v / ‖v‖₂ · g` that exporters
/// write for `torch.nn.utils.parametrizations.weight_norm`): `axes` from the attribute
/// (opset < 18) or input 1, `keepdims` (default 1), `noop_with_empty_axes`.
fn reduce(
    a: &Attrs<'_>,
    x: &Const,
    ins: &[Option<Rc<Const>>],
    budget: &mut Budget,
) -> Result<Option<Const>, Error> {
    if !x.dtype.is_real() || x.dtype.is_integer() {
        return Ok(None);
    }
    let rank = x.dims.len();
    let raw = match a.ints("axes") {
        Some(v) => Some(v.to_vec()),
        None if ins.get(1).is_some_and(Option::is_some) => match int_input(ins, 1) {
            Some(v) => Some(v),
            None => return Ok(None),
        },
        None => None,
    };
    let axes: Vec<usize> = match raw {
        Some(v) if !v.is_empty() => v
            .iter()
            .map(|&v| axis(a, v, rank))
            .collect::<Result<_, _>>()?,
        Some(_) | None if a.int_or("noop_with_empty_axes", 0) != 0 => {
            return Ok(Some(x.clone()));
        }
        Some(_) | None => (0..rank).collect(),
    };
    let keep = a.int_or("keepdims", 1) != 0;
    let n = x.len();
    if n > MAX_FOLD_ELEMENTS || !charge(budget, n) {
        return Ok(None);
    }
    // Output index of every input element: its index with the reduced axes dropped.
    let kept: Vec<u64> = (0..rank)
        .map(|i| if axes.contains(&i) { 1 } else { x.dims[i] })
        .collect();
    let out_len = element_count(&kept).unwrap_or(u64::MAX);
    if out_len > MAX_FOLD_ELEMENTS || !charge(budget, out_len) {
        return Ok(None);
    }
    let op = a.op;
    let init = match op {
        "ReduceMax" => f64::NEG_INFINITY,
        "ReduceMin" => f64::INFINITY,
        _ => 0.0,
    };
    let mut acc = vec![init; out_len as usize];
    let mut idx = vec![0u64; rank];
    for i in 0..n as usize {
        let mut o = 0u64;
        for d in 0..rank {
            o = o * kept[d] + if axes.contains(&d) { 0 } else { idx[d] };
        }
        let v = x.at(i).as_f64();
        let slot = &mut acc[o as usize];
        *slot = match op {
            "ReduceMax" => slot.max(v),
            "ReduceMin" => slot.min(v),
            "ReduceL2" | "ReduceSumSquare" => *slot + v * v,
            _ => *slot + v,
        };
        for d in (0..rank).rev() {
            idx[d] += 1;
            if idx[d] < x.dims[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    let count = (n / out_len.max(1)) as f64;
    let vals = acc
        .into_iter()
        .map(|v| {
            Scalar::Float(match op {
                "ReduceL2" => v.sqrt(),
                "ReduceMean" => v / count,
                _ => v,
            })
        })
        .collect();
    let dims = if keep {
        kept
    } else {
        (0..rank)
            .filter(|i| !axes.contains(i))
            .map(|i| x.dims[i])
            .collect()
    };
    Ok(Some(Const::list(x.dtype, dims, vals)))
}

/// Folds one node whose inputs are all constants. `ins[i]` is `None` for an omitted
/// input. `Ok(None)`: not folded (the node stays on the data path).
pub(crate) fn fold(
    a: &Attrs<'_>,
    ins: &[Option<Rc<Const>>],
    outputs: usize,
    budget: &mut Budget,
) -> Fold<Vec<Const>> {
    let op = a.op;
    // Reading the inputs is work too: charged, so that many nodes reading one large
    // constant cannot take more time than the budget allows.
    let read: u64 = ins
        .iter()
        .flatten()
        .filter(|c| matches!(c.elems, Elems::List(_)))
        .map(|c| c.len())
        .fold(0, u64::saturating_add);
    if read > 0 && !charge(budget, read) {
        return Ok(None);
    }
    let first = || ins.first().and_then(Option::as_ref);
    let one = |c: Option<Const>| c.map(|c| vec![c]);
    Ok(match op {
        "Identity" => one(first().map(|c| (**c).clone())),
        "Dropout" => {
            let Some(x) = first() else { return Ok(None) };
            let mut v = vec![(**x).clone()];
            if outputs > 1 {
                v.push(Const {
                    dtype: DataType::Bool,
                    dims: x.dims.clone(),
                    elems: Elems::Splat(Scalar::Int(1)),
                });
            }
            Some(v)
        }
        "Cast" => {
            let Some(x) = first() else { return Ok(None) };
            let Some(to) = a.int("to").and_then(|c| DataType::from_code(c as i32)) else {
                return Err(a.err("Cast needs a known `to` type"));
            };
            if !to.is_real() {
                return Ok(None);
            }
            one(map_elems(x, to, budget, |v| Some(cast(v, to)))?)
        }
        "ConstantOfShape" => {
            let Some(shape) = int_input(ins, 0) else {
                return Ok(None);
            };
            let mut dims = Vec::with_capacity(shape.len());
            for d in shape {
                let Ok(d) = u64::try_from(d) else {
                    return Err(a.err(format!("negative dimension {d}")));
                };
                dims.push(d);
            }
            if dims.len() > MAX_RANK {
                return Err(Error::Limit {
                    what: "the rank of a tensor",
                    actual: dims.len() as u64,
                    limit: MAX_RANK as u64,
                });
            }
            if element_count(&dims).is_none() {
                return Err(a.err(format!(
                    "dimensions {dims:?} hold more than {} elements (the limit)",
                    crate::MAX_ELEMENTS
                )));
            }
            let (dtype, value) = match a.tensor("value") {
                Some(t) => {
                    let tensor = Tensor::from_proto(t.clone(), None)?;
                    if tensor.len() != 1 {
                        return Err(a.err("`value` must hold one element"));
                    }
                    let Some(c) = Const::from_tensor(&tensor, "value")? else {
                        return Ok(None);
                    };
                    (c.dtype, c.at(0))
                }
                None => (DataType::Float, Scalar::Float(0.0)),
            };
            Some(vec![Const {
                dtype,
                dims,
                elems: Elems::Splat(value),
            }])
        }
        "Reshape" => {
            let (Some(x), Some(target)) = (first(), int_input(ins, 1)) else {
                return Ok(None);
            };
            let dims = reshape_dims(a, &x.dims, &target)?;
            one(with_dims(x, dims, budget)?)
        }
        "Flatten" => {
            let Some(x) = first() else { return Ok(None) };
            let ax = axis(a, a.int_or("axis", 1), x.dims.len() + 1)?;
            let lo: u64 = x.dims[..ax].iter().product();
            let hi: u64 = x.dims[ax..].iter().product();
            one(with_dims(x, vec![lo, hi], budget)?)
        }
        "Unsqueeze" => {
            let Some(x) = first() else { return Ok(None) };
            let axes = match a.ints("axes") {
                Some(v) => v.to_vec(),
                None => match int_input(ins, 1) {
                    Some(v) => v,
                    None => return Ok(None),
                },
            };
            let dims = unsqueeze_dims(a, &x.dims, &axes, 1)?;
            one(with_dims(x, dims, budget)?)
        }
        "Squeeze" => {
            let Some(x) = first() else { return Ok(None) };
            let axes = match a.ints("axes") {
                Some(v) => Some(v.to_vec()),
                None => match ins.get(1) {
                    Some(Some(c)) => match c.ints() {
                        Some(v) => Some(v),
                        None => return Ok(None),
                    },
                    Some(None) | None => None,
                },
            };
            let rank = x.dims.len();
            let mut drop = vec![false; rank];
            match axes {
                Some(axes) => {
                    for v in axes {
                        let ax = axis(a, v, rank)?;
                        if x.dims[ax] != 1 {
                            return Err(a.err(format!("axis {ax} has size {}, not 1", x.dims[ax])));
                        }
                        drop[ax] = true;
                    }
                }
                None => {
                    for (d, m) in x.dims.iter().zip(drop.iter_mut()) {
                        *m = *d == 1;
                    }
                }
            }
            let dims = x
                .dims
                .iter()
                .zip(&drop)
                .filter(|(_, m)| !**m)
                .map(|(d, _)| *d)
                .collect();
            one(with_dims(x, dims, budget)?)
        }
        "Concat" => {
            let parts: Vec<&Const> = ins.iter().flatten().map(|c| &**c).collect();
            let Some(p0) = parts.first() else {
                return Err(a.err("Concat has no input"));
            };
            let rank = p0.dims.len();
            let Some(ax0) = a.int("axis") else {
                return Err(a.err("Concat needs an `axis`"));
            };
            let ax = axis(a, ax0, rank.max(1))?;
            let mut dims = p0.dims.clone();
            if dims.is_empty() {
                return Err(a.err("cannot concatenate scalars"));
            }
            dims[ax] = 0;
            for p in &parts {
                if p.dims.len() != rank
                    || p.dims
                        .iter()
                        .enumerate()
                        .any(|(i, &d)| i != ax && d != p0.dims[i])
                {
                    return Err(a.err("inputs differ in shape off the concatenation axis"));
                }
                dims[ax] += p.dims[ax];
            }
            let splat = match parts[0].elems {
                Elems::Splat(v) => parts
                    .iter()
                    .all(|p| p.elems == Elems::Splat(v))
                    .then_some(v),
                Elems::List(_) => None,
            };
            if let Some(v) = splat {
                return Ok(Some(vec![Const {
                    dtype: p0.dtype,
                    dims,
                    elems: Elems::Splat(v),
                }]));
            }
            let outer: u64 = dims[..ax].iter().product();
            let inner: u64 = dims[ax + 1..].iter().product();
            let Some(n) = element_count(&dims) else {
                return Ok(None);
            };
            if !charge(budget, n) {
                return Ok(None);
            }
            let mut out = Vec::with_capacity(n as usize);
            for o in 0..outer as usize {
                for p in &parts {
                    let chunk = (p.dims[ax] * inner) as usize;
                    for j in 0..chunk {
                        out.push(p.at(o * chunk + j));
                    }
                }
            }
            Some(vec![Const::list(p0.dtype, dims, out)])
        }
        "Gather" => {
            let (Some(x), Some(ic)) = (first(), ins.get(1).and_then(Option::as_ref)) else {
                return Ok(None);
            };
            if !charge(budget, ic.len()) {
                return Ok(None);
            }
            let Some(idx) = ic.ints() else {
                return Ok(None);
            };
            let rank = x.dims.len();
            if rank == 0 {
                return Err(a.err("Gather on a scalar"));
            }
            let ax = axis(a, a.int_or("axis", 0), rank)?;
            let d = x.dims[ax] as i64;
            let mut norm = Vec::with_capacity(idx.len());
            for i in idx {
                let j = if i < 0 { i + d } else { i };
                if j < 0 || j >= d {
                    return Err(a.err(format!("index {i} is out of range for size {d}")));
                }
                norm.push(j as usize);
            }
            let mut dims = x.dims[..ax].to_vec();
            dims.extend_from_slice(&ic.dims);
            dims.extend_from_slice(&x.dims[ax + 1..]);
            let st = strides(&x.dims);
            let ist = strides(&ic.dims);
            let ir = ic.dims.len();
            one(pick(x, dims, budget, |o| {
                let mut src = 0;
                for k in 0..ax {
                    src += o[k] * st[k];
                }
                let mut flat = 0;
                for k in 0..ir {
                    flat += o[ax + k] * ist[k];
                }
                src += norm[flat] * st[ax];
                for k in ax + 1..rank {
                    src += o[k - 1 + ir] * st[k];
                }
                src
            })?)
        }
        "Slice" => {
            let Some(x) = first() else { return Ok(None) };
            let rank = x.dims.len();
            let Some(params) = slice_params(a, ins, rank)? else {
                return Ok(None);
            };
            let mut start = vec![0i64; rank];
            let mut step = vec![1i64; rank];
            let mut dims = x.dims.clone();
            for (ax, s, e, st) in params {
                let (s, e) = slice_range(x.dims[ax], s, e, st);
                start[ax] = s;
                step[ax] = st;
                dims[ax] = slice_len(s, e, st);
            }
            let xs = strides(&x.dims);
            one(pick(x, dims, budget, |o| {
                (0..rank)
                    .map(|k| (start[k] + o[k] as i64 * step[k]) as usize * xs[k])
                    .sum()
            })?)
        }
        "Transpose" => {
            let Some(x) = first() else { return Ok(None) };
            let rank = x.dims.len();
            let perm: Vec<usize> = match a.ints("perm") {
                Some(p) => p
                    .iter()
                    .map(|&v| axis(a, v, rank))
                    .collect::<Result<_, _>>()?,
                None => (0..rank).rev().collect(),
            };
            let mut seen = vec![false; rank];
            if perm.len() != rank || perm.iter().any(|&p| std::mem::replace(&mut seen[p], true)) {
                return Err(a.err(format!("perm {perm:?} is not a permutation of {rank} axes")));
            }
            let dims: Vec<u64> = perm.iter().map(|&p| x.dims[p]).collect();
            let xs = strides(&x.dims);
            one(pick(x, dims, budget, |o| {
                perm.iter().enumerate().map(|(k, &p)| o[k] * xs[p]).sum()
            })?)
        }
        "Expand" => {
            let (Some(x), Some(shape)) = (first(), int_input(ins, 1)) else {
                return Ok(None);
            };
            let Some(target) = shape
                .iter()
                .map(|&d| u64::try_from(d).ok())
                .collect::<Option<Vec<_>>>()
            else {
                return Err(a.err("negative dimension in the target shape"));
            };
            let dims = broadcast(a, &[&x.dims, &target])?;
            let xc = (**x).clone();
            let d2 = dims.clone();
            one(pick(x, dims, budget, |o| bcast_index(&xc, &d2, o))?)
        }
        "Range" => {
            let vals: Vec<Option<Scalar>> = (0..3)
                .map(|i| {
                    let c = ins.get(i)?.as_ref()?;
                    (c.len() == 1).then(|| c.at(0))
                })
                .collect();
            let (Some(s), Some(l), Some(d)) = (vals[0], vals[1], vals[2]) else {
                return Ok(None);
            };
            let dtype = ins[0].as_ref().map_or(DataType::Int64, |c| c.dtype);
            let (s, l, d) = (s.as_f64(), l.as_f64(), d.as_f64());
            if d == 0.0 {
                return Err(a.err("Range delta is 0"));
            }
            let n = ((l - s) / d).ceil().max(0.0);
            if !n.is_finite() || n > MAX_FOLD_ELEMENTS as f64 || !charge(budget, n as u64) {
                return Ok(None);
            }
            let int = dtype.is_integer();
            let v = (0..n as u64)
                .map(|i| {
                    let x = s + i as f64 * d;
                    if int {
                        Scalar::Int(x as i64)
                    } else {
                        Scalar::Float(x)
                    }
                })
                .collect();
            Some(vec![Const::list(dtype, vec![n as u64], v)])
        }
        "Neg" | "Abs" | "Floor" | "Ceil" | "Round" | "Sqrt" | "Reciprocal" | "Not" | "Relu" => {
            let Some(x) = first() else { return Ok(None) };
            one(unary(op, x, budget)?)
        }
        "ReduceL2" | "ReduceSum" | "ReduceSumSquare" | "ReduceMean" | "ReduceMax" | "ReduceMin" => {
            let Some(x) = first() else { return Ok(None) };
            one(reduce(a, x, ins, budget)?)
        }
        "Add" | "Sub" | "Mul" | "Div" | "Mod" | "Pow" | "Max" | "Min" | "Sum" | "Equal"
        | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual" | "And" | "Or" | "Xor"
        | "Where" => {
            let parts: Vec<&Const> = ins.iter().flatten().map(|c| &**c).collect();
            if parts.is_empty() || (op == "Where" && parts.len() != 3) {
                return Ok(None);
            }
            one(elementwise(a, op, &parts, budget)?)
        }
        _ => None,
    })
}
