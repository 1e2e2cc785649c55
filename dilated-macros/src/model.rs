//! Phase 3 for block stacks: a checked graph → a struct over `dilated_core::model::Model`.
//!
//! The graph is rebuilt with `ModelBuilder` calls, one per op, every module under its
//! `state_dict` path (`3.body.0`); the builder's own checks cannot fail on what the macro
//! accepted, so its errors only surface as the constructors' `Err`. Expands to, roughly:
//!
//! ```text
//! /// (the user's docs) + a table of the ops, the verdict, the coverage picture
//! #[derive(Debug, Clone)]
//! pub struct Tcn { model: Model }
//! impl Tcn {
//!     pub const RECEPTIVE_FIELD: usize = …;
//!     pub const PYTORCH: &'static str = "import torch …";
//!     pub fn graph() -> Result<ModelGraph, ModelError> { let mut b = ModelBuilder::…; … }
//!     pub fn new_seeded(seed: u64) -> Result<Self, ModelError> { … }
//!     …
//! }
//! ```

use std::fmt::Write as _;

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use crate::ast::{Dims, Stack};
use crate::ctxt::Warning;
use crate::expand::{act_tokens, usize_lit, warning};
use crate::graph::{self, GraphPlan, Op};

/// The whole expansion of a block stack.
pub(crate) fn expand(stack: &Stack, plan: &GraphPlan, warnings: &[Warning]) -> TokenStream {
    let p = quote!(::dilated::__private);
    let name = &stack.name;
    let vis = &stack.vis;
    let attrs = &stack.attrs;
    let warnings = warnings.iter().map(warning);
    let doc = docs(stack, plan);
    let build = builder(stack, plan);
    let twin = crate::twin::graph_twin(stack);
    let result = quote!(::core::result::Result);
    let out = &plan.nodes[plan.output];
    let shape3 = |c: usize, hw: [Option<usize>; 2]| {
        let c = usize_lit(c);
        let [h, w] = hw.map(|v| usize_lit(v.unwrap_or(0)));
        quote!([#c, #h, #w])
    };
    let in_shape = shape3(
        stack.input.channels.value,
        stack.input.sizes.map(|s| s.map(|s| s.value)),
    );
    let out_shape = shape3(out.channels, out.size);
    let [rf_h, rf_w] = plan.rf.map(usize_lit);
    let rf = usize_lit(match stack.dims {
        Dims::One => plan.rf[1],
        Dims::Two => plan.rf[0].max(plan.rf[1]),
    });
    quote! {
        #(#warnings)*

        #attrs
        #[doc = ""]
        #[doc = #doc]
        #[derive(Debug, Clone)]
        #vis struct #name {
            model: #p::Model,
        }

        #[allow(dead_code)]
        impl #name {
            /// The receptive field of the whole graph in input pixels (the wider axis in
            /// 2D; the declared input field included).
            #vis const RECEPTIVE_FIELD: usize = #rf;
            /// The receptive field per axis, `[height, width]` (`height` = 1 in 1D).
            #vis const RECEPTIVE_FIELD_HW: [usize; 2] = [#rf_h, #rf_w];
            /// The input shape `[C, H, W]` (`H` = 1 in 1D); 0 marks a size known only at run time.
            #vis const INPUT_SHAPE: [usize; 3] = #in_shape;
            /// The output shape `[C, H, W]`; 0 marks a run-time size.
            #vis const OUTPUT_SHAPE: [usize; 3] = #out_shape;
            /// The Python source of the twin `torch.nn.Module` (imports only `torch`): its
            /// `state_dict()`, saved with `safetensors.torch.save_file`, loads with
            /// [`from_safetensors`](Self::from_safetensors), and its `forward` in `eval()`
            /// mode computes what [`forward_nchw`](Self::forward_nchw) computes.
            #vis const PYTORCH: &'static str = #twin;

            /// The graph, without weights: every op under its `state_dict` path.
            #vis fn graph() -> #result<#p::ModelGraph, #p::ModelError> {
                #build
            }

            /// Seeded weights, as the twin's PyTorch defaults draw them (batch norms at
            /// identity statistics).
            #vis fn new_seeded(seed: u64) -> #result<Self, #p::ModelError> {
                #result::Ok(Self { model: Self::graph()?.init(seed)? })
            }

            /// Loads the weights saved from the twin's `state_dict()` with
            /// `safetensors.torch.save_file`; a missing or extra tensor is named by its
            /// full module path.
            #vis fn from_safetensors(
                path: impl ::core::convert::AsRef<::std::path::Path>,
            ) -> #result<Self, #p::ModelError> {
                #result::Ok(Self { model: Self::graph()?.from_safetensors(path)? })
            }

            /// Loads the weights from the bytes of a safetensors file.
            #vis fn from_safetensors_bytes(bytes: &[u8]) -> #result<Self, #p::ModelError> {
                #result::Ok(Self { model: Self::graph()?.from_safetensors_bytes(bytes)? })
            }

            /// The weights as a safetensors file (`F32`, the twin's names).
            #vis fn to_safetensors_bytes(&self) -> #result<::std::vec::Vec<u8>, #p::ModelError> {
                self.model.to_safetensors_bytes()
            }

            /// Writes the weights to a safetensors file.
            #vis fn save_safetensors(
                &self,
                path: impl ::core::convert::AsRef<::std::path::Path>,
            ) -> #result<(), #p::ModelError> {
                self.model.save_safetensors(path)
            }

            /// The runtime model.
            #vis fn model(&self) -> &#p::Model {
                &self.model
            }

            /// Runs on flat NCHW data (`batch × C × H × W`; `batch × C × L` in 1D); one
            /// size declared `_` is inferred from the length.
            #vis fn forward_nchw(
                &self,
                batch: usize,
                input: &[f32],
            ) -> #result<::std::vec::Vec<f32>, #p::ModelError> {
                self.model.forward_nchw(batch, input)
            }

            /// Runs on flat NCHW data of spatial size `hw` (`[1, L]` in 1D); returns the
            /// flat output and its spatial size.
            #vis fn forward_nchw_sized(
                &self,
                batch: usize,
                hw: [usize; 2],
                input: &[f32],
            ) -> #result<(::std::vec::Vec<f32>, [usize; 2]), #p::ModelError> {
                self.model.forward_nchw_sized(batch, hw, input)
            }

            /// Runs into `output`, reusing `ws` (no allocation once it has grown);
            /// returns the output's spatial size.
            #vis fn forward_into(
                &self,
                batch: usize,
                hw: [usize; 2],
                input: &[f32],
                output: &mut [f32],
                ws: &mut #p::ModelWorkspace,
            ) -> #result<[usize; 2], #p::ModelError> {
                self.model.forward_into(batch, hw, input, output, ws)
            }
        }
    }
}

/// The `ModelBuilder` calls that rebuild the graph.
fn builder(stack: &Stack, plan: &GraphPlan) -> TokenStream {
    let p = quote!(::dilated::__private);
    let v = |i: usize| -> Ident { format_ident!("v{}", i) };
    let rank = match stack.dims {
        Dims::One => quote!(#p::Rank::One),
        Dims::Two => quote!(#p::Rank::Two),
    };
    let cin = usize_lit(stack.input.channels.value);
    let [h, w] = stack.input.sizes.map(|s| match s {
        Some(s) => {
            let s = usize_lit(s.value);
            quote!(#s)
        }
        None => quote!(#p::DYN),
    });
    let mut body = Vec::new();
    for (i, n) in plan.nodes.iter().enumerate().skip(1) {
        let out = v(i);
        let ins: Vec<Ident> = n.inputs.iter().map(|&j| v(j)).collect();
        let prefix = &n.prefix;
        let call = match &n.op {
            Op::Input => continue,
            Op::Conv { conv, padding } => {
                let l = |a: [usize; 2]| a.map(usize_lit);
                let [kh, kw] = l(conv.kernel.map(|v| v.value));
                let [dh, dw] = l(conv.rate.map(|v| v.value));
                let [sh, sw] = l(conv.stride.map(|v| v.value));
                let [[pt, pb], [pl, pr]] = padding.map(l);
                let (ci, co, g) = (
                    usize_lit(conv.in_channels.value),
                    usize_lit(conv.out_channels.value),
                    usize_lit(conv.groups.value),
                );
                let bias = conv.bias;
                let norm = if conv.weight_norm {
                    quote!(#p::WeightNorm::Parametrization)
                } else {
                    quote!(#p::WeightNorm::None)
                };
                let from = &ins[0];
                quote! {
                    b.conv(#from, #prefix, #p::ConvDesc {
                        in_channels: #ci,
                        out_channels: #co,
                        groups: #g,
                        kernel: [#kh, #kw],
                        dilation: [#dh, #dw],
                        stride: [#sh, #sw],
                        padding: [[#pt, #pb], [#pl, #pr]],
                        bias: #bias,
                        activation: #p::Activation::Identity,
                    }, #norm)?
                }
            }
            Op::BatchNorm(eps) => {
                let from = &ins[0];
                quote!(b.batch_norm(#from, #prefix, #eps)?)
            }
            Op::Act(a) => {
                let from = &ins[0];
                let act = act_tokens(Some(*a));
                quote!(b.activation(#from, #act)?)
            }
            Op::Prelu => {
                let from = &ins[0];
                let c = usize_lit(n.channels);
                quote!(b.prelu(#from, #prefix, #c)?)
            }
            Op::Gate => {
                let from = &ins[0];
                quote!(b.gate(#from)?)
            }
            Op::Add(a) => {
                let act = act_tokens(*a);
                quote!(b.add(&[#(#ins),*], #act)?)
            }
            Op::Concat => quote!(b.concat(&[#(#ins),*])?),
            Op::GlobalPool => {
                let from = &ins[0];
                quote!(b.global_avg_pool(#from)?)
            }
            Op::Broadcast => {
                let (from, like) = (&ins[0], &ins[1]);
                quote!(b.broadcast(#from, #like)?)
            }
            Op::Dropout => {
                let from = &ins[0];
                quote!(b.dropout(#from)?)
            }
        };
        body.push(quote!(let #out = #call;));
    }
    let last = v(plan.output);
    quote! {
        let mut b = #p::ModelBuilder::with_input_size(#rank, #cin, [#h, #w])?;
        let v0 = b.input();
        #(#body)*
        b.output(#last)?;
        b.build()
    }
}

/// The generated rustdoc of a block stack.
fn docs(stack: &Stack, plan: &GraphPlan) -> String {
    let dims = stack.dims;
    let out = &plan.nodes[plan.output];
    let s = |v: Option<usize>| v.map_or_else(|| "_".to_owned(), |v| v.to_string());
    let shape = |c: usize, hw: [Option<usize>; 2]| match dims {
        Dims::One => format!("{c}×{}", s(hw[1])),
        Dims::Two => format!("{c}×{}×{}", s(hw[0]), s(hw[1])),
    };
    let rf = match dims {
        Dims::One => plan.rf[1].to_string(),
        Dims::Two if plan.rf[0] == plan.rf[1] => plan.rf[0].to_string(),
        Dims::Two => format!("{}×{}", plan.rf[0], plan.rf[1]),
    };
    let mut d = String::new();
    let _ = writeln!(
        d,
        "**Dilated graph**, {}: input `{}`, output `{}`, receptive field {rf}{}. {}\n",
        if dims == Dims::One { "1D" } else { "2D" },
        shape(
            stack.input.channels.value,
            stack.input.sizes.map(|s| s.map(|s| s.value))
        ),
        shape(out.channels, out.size),
        if stack.field.is_some() {
            " (input pixels, the declared input field included)"
        } else {
            ""
        },
        plan.verdict,
    );
    d.push_str(&graph::table(dims, plan));
    d.push('\n');
    if let Some(row) = &plan.coverage {
        let _ = writeln!(
            d,
            "Coverage: how many paths, over every branch, lead from one output position to \
             each input offset (0 = a hole):\n\n```text\n{row}\n```\n"
        );
    }
    match (&plan.svg, &plan.no_picture) {
        (Some(svg), _) => {
            d.push_str(
                "Coverage heat map (the count of paths to each input position, summed over \
                 every branch; paths through a global pool are not drawn):\n\n",
            );
            d.push_str(&svg.replace(['\n', '\r'], " "));
            d.push('\n');
        }
        (None, Some(why)) => {
            d.push_str(why);
            d.push('\n');
        }
        (None, None) => {
            d.push_str("The coverage heat map is too large to embed.\n");
        }
    }
    d
}
