//! From a decoded `ModelProto` to the [`Graph`] IR: names resolved, duplicates, missing
//! inputs, self-feeding nodes and cycles refused, nodes sorted (Kahn's algorithm, an
//! explicit queue: no recursion), constants folded and shapes inferred in one pass in
//! topological order.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::rc::Rc;

use crate::attrs::Attrs;
use crate::error::{Error, Name};
use crate::fold::{Budget, Const, fold};
use crate::graph::{Dim, Graph, Node, NodeId, NodeKind, Shape, Source, Value, ValueId};
use crate::infer::{Consts, Inputs, fold_shape, infer};
use crate::proto::{GraphProto, ModelProto, NodeProto, ValueInfoProto};
use crate::tensor::{DataType, Tensor};
use crate::{Model, Opset};

/// How a name was first defined, for duplicate errors.
#[derive(Debug, Clone, Copy)]
enum Def {
    Initializer,
    Input,
    Node(usize),
}

fn label(n: &NodeProto, i: usize) -> String {
    if n.name.is_empty() {
        format!("{}#{i}", n.op_type)
    } else {
        n.name.clone()
    }
}

fn describe(def: Def, nodes: &[NodeProto]) -> String {
    match def {
        Def::Initializer => "an initializer".into(),
        Def::Input => "a graph input".into(),
        Def::Node(i) => format!("node {}", Name(label(&nodes[i], i))),
    }
}

/// The declared type of a value info: element type and shape.
fn declared(vi: &ValueInfoProto) -> Result<(Option<DataType>, Option<Shape>), Error> {
    let Some(tt) = vi.r#type.as_ref().and_then(|t| t.tensor_type.as_ref()) else {
        return Ok((None, None));
    };
    let dtype = DataType::from_code(tt.elem_type);
    let Some(shape) = &tt.shape else {
        return Ok((dtype, None));
    };
    if shape.dim.len() > crate::MAX_RANK {
        return Err(Error::Limit {
            what: "the rank of a tensor",
            actual: shape.dim.len() as u64,
            limit: crate::MAX_RANK as u64,
        });
    }
    let mut dims = Vec::with_capacity(shape.dim.len());
    for d in &shape.dim {
        dims.push(match (&d.dim_value, &d.dim_param) {
            (Some(v), _) if *v >= 0 => Dim::Known(*v as u64),
            (Some(v), _) => {
                return Err(Error::Tensor {
                    tensor: Name::from(vi.name.as_str()),
                    reason: format!("declared dimension {v} is negative"),
                });
            }
            (None, Some(p)) if !p.is_empty() => Dim::Symbol(p.clone()),
            (None, _) => Dim::Unknown,
        });
    }
    let fixed: Option<Vec<u64>> = dims.iter().map(Dim::known).collect();
    if let Some(f) = fixed
        && crate::tensor::element_count(&f).is_none()
    {
        return Err(Error::Tensor {
            tensor: Name::from(vi.name.as_str()),
            reason: format!(
                "declared dimensions {f:?} hold more than {} elements (the limit)",
                crate::MAX_ELEMENTS
            ),
        });
    }
    Ok((dtype, Some(dims)))
}

/// A `Constant` node's value.
fn constant_value(a: &Attrs<'_>, dir: Option<&Path>) -> Result<Tensor, Error> {
    if let Some(t) = a.tensor("value") {
        return Tensor::from_proto(t.clone(), dir);
    }
    let floats = |v: Vec<f64>| {
        let n = v.len() as u64;
        Tensor::floats(DataType::Float, vec![n], v)
    };
    if let Some(f) = a.get("value_float").and_then(|x| x.f) {
        return Ok(Tensor::floats(
            DataType::Float,
            Vec::new(),
            vec![f64::from(f)],
        ));
    }
    if let Some(v) = a.get("value_floats") {
        return Ok(floats(v.floats.iter().map(|&f| f64::from(f)).collect()));
    }
    if let Some(i) = a.get("value_int").and_then(|x| x.i) {
        return Ok(Tensor::ints(DataType::Int64, Vec::new(), vec![i]));
    }
    if let Some(v) = a.get("value_ints") {
        return Ok(Tensor::ints(
            DataType::Int64,
            vec![v.ints.len() as u64],
            v.ints.clone(),
        ));
    }
    Err(a.err("a Constant without a numeric value (strings and sparse tensors are not supported)"))
}

/// The ops folded when all their inputs are constant.
fn foldable(op: &str) -> bool {
    matches!(
        op,
        "Identity"
            | "Dropout"
            | "Cast"
            | "ConstantOfShape"
            | "Reshape"
            | "Flatten"
            | "Unsqueeze"
            | "Squeeze"
            | "Concat"
            | "Gather"
            | "Slice"
            | "Transpose"
            | "Expand"
            | "Range"
            | "Neg"
            | "Abs"
            | "Floor"
            | "Ceil"
            | "Round"
            | "Sqrt"
            | "ReduceL2"
            | "ReduceSum"
            | "ReduceSumSquare"
            | "ReduceMean"
            | "ReduceMax"
            | "ReduceMin"
            | "Reciprocal"
            | "Not"
            | "Relu"
            | "Add"
            | "Sub"
            | "Mul"
            | "Div"
            | "Mod"
            | "Pow"
            | "Max"
            | "Min"
            | "Sum"
            | "Equal"
            | "Less"
            | "Greater"
            | "LessOrEqual"
            | "GreaterOrEqual"
            | "And"
            | "Or"
            | "Xor"
            | "Where"
    )
}

/// Builds the IR from a decoded model. `dir` is the model's folder (for external data).
pub(crate) fn build(model: ModelProto, dir: Option<&Path>) -> Result<Model, Error> {
    let opsets: Vec<Opset> = model
        .opset_import
        .iter()
        .map(|o| Opset {
            domain: o.domain.clone(),
            version: o.version,
        })
        .collect();
    if opsets.is_empty() && model.ir_version >= 3 {
        return Err(Error::NoOpset);
    }
    let opset = opsets
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(1, |o| o.version);
    let producer = if model.producer_version.is_empty() {
        model.producer_name.clone()
    } else {
        format!("{} {}", model.producer_name, model.producer_version)
    };
    let Some(g) = model.graph else {
        return Err(Error::NoGraph);
    };
    let graph = build_graph(g, dir, opset)?;
    Ok(Model {
        ir_version: model.ir_version,
        opsets,
        producer,
        local_functions: model.functions.len(),
        graph,
    })
}

#[allow(clippy::too_many_lines)]
fn build_graph(g: GraphProto, dir: Option<&Path>, opset: i64) -> Result<Graph, Error> {
    let GraphProto {
        node: mut nodes,
        name,
        initializer,
        sparse_initializer,
        input,
        output,
        value_info,
    } = g;
    // Drop the growth slack of the decoded list before the IR grows beside it (the wire
    // scan's estimate counts on it).
    nodes.shrink_to_fit();
    if !sparse_initializer.is_empty() {
        return Err(Error::Unsupported {
            what: format!(
                "a graph with {} sparse initializers",
                sparse_initializer.len()
            ),
        });
    }
    let mut values: Vec<Value> = Vec::with_capacity(initializer.len() + input.len() + nodes.len());
    let mut defs: Vec<Def> = Vec::with_capacity(values.capacity());
    let mut by_name: HashMap<String, ValueId> = HashMap::with_capacity(values.capacity());

    for t in initializer {
        let tname = t.name.clone();
        if tname.is_empty() {
            return Err(Error::Tensor {
                tensor: Name::from(""),
                reason: "an initializer has no name".into(),
            });
        }
        if let Some(&id) = by_name.get(&tname) {
            return Err(Error::Duplicate {
                tensor: Name(tname),
                first: describe(defs[id.0], &nodes),
                second: "an initializer".into(),
            });
        }
        let tensor = Tensor::from_proto(t, dir)?;
        let id = ValueId(values.len());
        values.push(Value {
            name: tname.clone(),
            dtype: Some(tensor.dtype()),
            shape: Some(tensor.dims().iter().map(|&d| Dim::Known(d)).collect()),
            source: Source::Initializer,
            constant: Some(tensor),
        });
        defs.push(Def::Initializer);
        by_name.insert(tname, id);
    }

    let mut inputs = Vec::new();
    let mut backed = vec![false; values.len()];
    for vi in &input {
        if vi.name.is_empty() {
            return Err(Error::Tensor {
                tensor: Name::from(""),
                reason: "a graph input has no name".into(),
            });
        }
        let (dtype, shape) = declared(vi)?;
        if let Some(&id) = by_name.get(&vi.name) {
            match defs[id.0] {
                Def::Initializer if !backed[id.0] => {
                    backed[id.0] = true;
                    continue;
                }
                Def::Initializer | Def::Input | Def::Node(_) => {
                    return Err(Error::Duplicate {
                        tensor: Name(vi.name.clone()),
                        first: describe(defs[id.0], &nodes),
                        second: "a graph input".into(),
                    });
                }
            }
        }
        let id = ValueId(values.len());
        values.push(Value {
            name: vi.name.clone(),
            dtype,
            shape,
            source: Source::Input,
            constant: None,
        });
        defs.push(Def::Input);
        by_name.insert(vi.name.clone(), id);
        inputs.push(id);
    }
    drop(backed);

    // Outputs of every node, and the refusal of nested graphs.
    let mut node_outputs: Vec<Vec<Option<ValueId>>> = Vec::with_capacity(nodes.len());
    for (i, n) in nodes.iter_mut().enumerate() {
        for at in &n.attribute {
            if at.g.is_some() || !at.graphs.is_empty() || matches!(at.r#type, 5 | 10) {
                return Err(Error::Subgraph {
                    node: Name(label(n, i)),
                    op: Name(n.op_type.clone()),
                    attribute: Name(at.name.clone()),
                });
            }
            if !at.ref_attr_name.is_empty() {
                return Err(Error::Node {
                    node: Name(label(n, i)),
                    op: Name(n.op_type.clone()),
                    reason: format!(
                        "attribute {} refers to a function's attribute outside a function",
                        Name(at.name.clone())
                    ),
                });
            }
        }
        let mut outs = Vec::with_capacity(n.output.len());
        for o in std::mem::take(&mut n.output) {
            if o.is_empty() {
                outs.push(None);
                continue;
            }
            if let Some(&id) = by_name.get(&o) {
                let first = describe(defs[id.0], &nodes);
                let n = &nodes[i];
                return Err(Error::Duplicate {
                    tensor: Name(o),
                    first,
                    second: format!("node {}", Name(label(n, i))),
                });
            }
            let id = ValueId(values.len());
            values.push(Value {
                name: o.clone(),
                dtype: None,
                shape: None,
                source: Source::Folded,
                constant: None,
            });
            defs.push(Def::Node(i));
            by_name.insert(o, id);
            outs.push(Some(id));
        }
        node_outputs.push(outs);
    }

    // Inputs of every node.
    let mut node_inputs: Vec<Vec<Option<ValueId>>> = Vec::with_capacity(nodes.len());
    for (i, n) in nodes.iter_mut().enumerate() {
        let mut ins = Vec::with_capacity(n.input.len());
        for name in std::mem::take(&mut n.input) {
            if name.is_empty() {
                ins.push(None);
                continue;
            }
            match by_name.get(&name) {
                Some(&id) if matches!(defs[id.0], Def::Node(p) if p == i) => {
                    return Err(Error::SelfLoop {
                        node: Name(label(n, i)),
                        tensor: Name(name),
                    });
                }
                Some(&id) => ins.push(Some(id)),
                None => {
                    return Err(Error::MissingInput {
                        node: Name(label(n, i)),
                        tensor: Name(name),
                    });
                }
            }
        }
        node_inputs.push(ins);
    }

    let order = topo_order(&nodes, &node_inputs, &defs)?;

    // Declared shapes of intermediate values and outputs (fallback of the inference).
    let mut declared_info: HashMap<ValueId, (Option<DataType>, Option<Shape>)> = HashMap::new();
    for vi in value_info.iter().chain(output.iter()) {
        if let Some(&id) = by_name.get(&vi.name) {
            declared_info.insert(id, declared(vi)?);
        }
    }
    drop(value_info);

    // Spatial rank: the first run-time input of rank ≥ 3.
    let spatial = inputs.iter().find_map(|&v: &ValueId| {
        let r = values[v.0].shape.as_ref()?.len();
        (r >= 3).then(|| r - 2)
    });

    let mut consts = Consts::new(values.len());
    let mut budget = Budget::default();
    let mut ir_nodes: Vec<Node> = Vec::with_capacity(order.len());
    let mut folded = 0usize;
    for &i in &order {
        let n = &mut nodes[i];
        let lbl = label(n, i);
        let ins_ids = std::mem::take(&mut node_inputs[i]);
        let outs = std::mem::take(&mut node_outputs[i]);
        let a = Attrs {
            list: &n.attribute,
            node: &lbl,
            op: &n.op_type,
        };
        let standard = n.domain.is_empty() || n.domain == "ai.onnx";
        let mut made: Option<Vec<Const>> = None;
        let mut made_tensor: Option<Tensor> = None;
        if standard && n.op_type == "Constant" {
            made_tensor = Some(constant_value(&a, dir)?);
        } else if standard && (n.op_type == "Shape" || n.op_type == "Size") {
            let shape = ins_ids
                .first()
                .copied()
                .flatten()
                .and_then(|id| values[id.0].shape.as_ref());
            made = fold_shape(&a, shape)?.map(|c| vec![c]);
        } else if standard
            && foldable(&n.op_type)
            && ins_ids
                .iter()
                .flatten()
                .all(|id| values[id.0].constant.is_some())
        {
            let mut cs = Vec::with_capacity(ins_ids.len());
            let mut all = true;
            for id in &ins_ids {
                match id {
                    None => cs.push(None),
                    Some(id) => match consts.get(&values, *id, &mut budget)? {
                        Some(c) => cs.push(Some(c)),
                        None => {
                            all = false;
                            break;
                        }
                    },
                }
            }
            if all {
                made = fold(&a, &cs, outs.len(), &mut budget)?;
            }
        }
        if let Some(t) = made_tensor {
            if let Some(Some(id)) = outs.first() {
                let v = &mut values[id.0];
                v.dtype = Some(t.dtype());
                v.shape = Some(t.dims().iter().map(|&d| Dim::Known(d)).collect());
                v.constant = Some(t);
            }
            folded += 1;
            continue;
        }
        if let Some(cs) = made {
            for (c, id) in cs.into_iter().zip(&outs) {
                let Some(id) = id else { continue };
                let v = &mut values[id.0];
                v.dtype = Some(c.dtype);
                v.shape = Some(c.dims.iter().map(|&d| Dim::Known(d)).collect());
                v.constant = Some(c.clone().into_tensor());
                consts.set(*id, Rc::new(c));
            }
            folded += 1;
            continue;
        }
        let outcome = if standard {
            let mut view = Inputs {
                ids: &ins_ids,
                values: &values,
                consts: &mut consts,
                budget: &mut budget,
            };
            infer(&a, &mut view, outs.len(), spatial, opset)?
        } else {
            crate::infer::Outcome {
                kind: NodeKind::Unknown {
                    reason: format!(
                        "operator {} of domain {}",
                        Name(n.op_type.clone()),
                        Name(n.domain.clone())
                    ),
                },
                shapes: vec![None; outs.len()],
                dtypes: vec![None; outs.len()],
                hazards: Vec::new(),
            }
        };
        let nid = NodeId(ir_nodes.len());
        for (k, id) in outs.iter().enumerate() {
            let Some(id) = id else { continue };
            let decl = declared_info.remove(id);
            let v = &mut values[id.0];
            v.source = Source::Node(nid);
            v.shape = outcome.shapes.get(k).cloned().flatten();
            v.dtype = outcome.dtypes.get(k).copied().flatten();
            if let Some((dt, sh)) = decl {
                if v.shape.is_none() {
                    v.shape = sh;
                }
                if v.dtype.is_none() {
                    v.dtype = dt;
                }
            }
        }
        let epsilon = n
            .attribute
            .iter()
            .find(|a| a.name == "epsilon")
            .and_then(|a| a.f);
        ir_nodes.push(Node {
            epsilon,
            name: std::mem::take(&mut n.name),
            op_type: std::mem::take(&mut n.op_type),
            domain: std::mem::take(&mut n.domain),
            file_index: i,
            inputs: ins_ids,
            outputs: outs,
            kind: outcome.kind,
            hazards: outcome.hazards,
        });
        n.attribute = Vec::new();
    }
    drop(nodes);
    drop(consts);

    let mut outputs = Vec::with_capacity(output.len());
    for vi in &output {
        let Some(&id) = by_name.get(&vi.name) else {
            return Err(Error::MissingOutput {
                tensor: Name(vi.name.clone()),
            });
        };
        if values[id.0].shape.is_none()
            && let Some((dt, sh)) = declared_info.remove(&id)
        {
            values[id.0].shape = sh;
            if values[id.0].dtype.is_none() {
                values[id.0].dtype = dt;
            }
        }
        outputs.push(id);
    }
    Ok(Graph {
        name,
        values,
        nodes: ir_nodes,
        inputs,
        outputs,
        folded,
        by_name,
    })
}

/// Kahn's algorithm over the node list: ready nodes are taken in file order. On a cycle,
/// names a node on it (found by walking producers backwards from a node left over).
fn topo_order(
    nodes: &[NodeProto],
    inputs: &[Vec<Option<ValueId>>],
    defs: &[Def],
) -> Result<Vec<usize>, Error> {
    let n = nodes.len();
    let producer = |v: ValueId| match defs[v.0] {
        Def::Node(p) => Some(p),
        Def::Initializer | Def::Input => None,
    };
    // Edges producer → consumer, as compressed rows (one entry per input read).
    let mut indegree = vec![0u32; n];
    let mut count = vec![0u32; n + 1];
    for (i, ins) in inputs.iter().enumerate() {
        for &v in ins.iter().flatten() {
            if let Some(p) = producer(v) {
                indegree[i] += 1;
                count[p + 1] += 1;
            }
        }
    }
    for i in 0..n {
        count[i + 1] += count[i];
    }
    let mut fill = count.clone();
    let mut edges = vec![0u32; count[n] as usize];
    for (i, ins) in inputs.iter().enumerate() {
        for &v in ins.iter().flatten() {
            if let Some(p) = producer(v) {
                edges[fill[p] as usize] = i as u32;
                fill[p] += 1;
            }
        }
    }
    drop(fill);
    let mut ready: VecDeque<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_front() {
        order.push(i);
        for &c in &edges[count[i] as usize..count[i + 1] as usize] {
            let c = c as usize;
            indegree[c] -= 1;
            if indegree[c] == 0 {
                ready.push_back(c);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Every node left has a producer left: walk back until a node repeats.
    let start = (0..n).find(|&i| indegree[i] > 0).unwrap_or(0);
    let mut seen_at = vec![usize::MAX; n];
    let mut cur = start;
    let mut step = 0usize;
    while seen_at[cur] == usize::MAX {
        seen_at[cur] = step;
        step += 1;
        let next = inputs[cur]
            .iter()
            .flatten()
            .filter_map(|&v| producer(v))
            .find(|&p| indegree[p] > 0);
        match next {
            Some(p) => cur = p,
            None => break,
        }
    }
    let length = step - seen_at[cur].min(step);
    Err(Error::Cycle {
        node: Name(label(&nodes[cur], cur)),
        length: length.max(1),
    })
}
