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
use quote::{format_ident, quote, quote_spanned};

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
    let rank = match stack.dims {
        Dims::One => 1,
        Dims::Two => 2,
    };
    let shapes = match (&stack.source, &plan.composed) {
        (Some(src), Some(c)) => composed_consts(stack, plan, src, c),
        (None, _) | (_, None) => {
            let [rf_h, rf_w] = plan.rf.map(usize_lit);
            let [jump_h, jump_w] = plan
                .jump
                .map(|j| usize_lit(usize::try_from(j).unwrap_or(0)));
            Shapes {
                rf_hw: quote!([#rf_h, #rf_w]),
                jump_hw: quote!([#jump_h, #jump_w]),
                input: shape3(
                    stack.input.channels.value,
                    stack.input.sizes.map(|s| s.map(|s| s.value)),
                ),
                output: shape3(out.channels, out.size),
                checks: TokenStream::new(),
                after: TokenStream::new(),
            }
        }
    };
    let Shapes {
        rf_hw,
        jump_hw,
        input: in_shape,
        output: out_shape,
        checks,
        after,
    } = shapes;
    let rf = match stack.dims {
        Dims::One => quote!(Self::RECEPTIVE_FIELD_HW[1]),
        Dims::Two => quote!({
            let [h, w] = Self::RECEPTIVE_FIELD_HW;
            if h > w { h } else { w }
        }),
    };
    let shared = crate::api::shared(
        vis,
        &crate::api::Backing {
            field: format_ident!("model"),
            error: quote!(#p::ModelError),
            make: |ctor, args| quote!(::core::result::Result::Ok(Self { model: Self::graph()?.#ctor(#args)? })),
        },
    );
    let declared = crate::api::declared(name, rank, &quote!(#p::ModelError));
    quote! {
        #(#warnings)*

        #attrs
        #[doc = ""]
        #[doc = #doc]
        #[derive(Debug, Clone)]
        #vis struct #name {
            model: #p::Model,
        }

        #checks

        #[allow(dead_code)]
        impl #name {
            /// The receptive field of the whole graph in input pixels (the wider axis in
            /// 2D; the declared input field included).
            #vis const RECEPTIVE_FIELD: usize = #rf;
            /// The receptive field per axis, `[height, width]` (`height` = 1 in 1D).
            #vis const RECEPTIVE_FIELD_HW: [usize; 2] = #rf_hw;
            /// Input pixels between neighbouring output positions, per axis `[height,
            /// width]` (the product of the strides, times the input field's jump).
            #vis const JUMP_HW: [usize; 2] = #jump_hw;
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

            #shared

            /// The runtime model.
            #vis fn model(&self) -> &#p::Model {
                &self.model
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

            #after
        }

        #declared
    }
}

/// The consts that depend on the stack's input, and what checks them.
struct Shapes {
    rf_hw: TokenStream,
    jump_hw: TokenStream,
    input: TokenStream,
    output: TokenStream,
    /// `const _: () = { … };`: the composition's checks.
    checks: TokenStream,
    /// Methods that run the pair.
    after: TokenStream,
}

/// `input: Backbone`: the shapes and field from `Backbone`'s `DeclaredStack` consts, and
/// a `const` item that fails the build, spanned on `input`, when they do not fit.
fn composed_consts(
    stack: &Stack,
    plan: &GraphPlan,
    src: &crate::ast::Source,
    c: &crate::graph::Composed,
) -> Shapes {
    let p = quote!(::dilated::__private);
    let vis = &stack.vis;
    let span = src.key;
    let source = &src.name;
    let decl = quote_spanned!(source.span()=> <#source as #p::dilated_core::stack::DeclaredStack>);
    let out = &plan.nodes[plan.output];
    let me = stack.name.to_string();
    let it = source.to_string();
    let rank = match stack.dims {
        Dims::One => 1usize,
        Dims::Two => 2,
    };
    let [eh, ew] = c
        .ext
        .map(|e| usize_lit(usize::try_from(e).unwrap_or(usize::MAX)));
    let [jh, jw] = plan
        .jump
        .map(|j| usize_lit(usize::try_from(j).unwrap_or(usize::MAX)));
    let rf_hw = quote!([
        (#eh - 1) * #decl::JUMP_HW[0] + #decl::RECEPTIVE_FIELD_HW[0],
        (#ew - 1) * #decl::JUMP_HW[1] + #decl::RECEPTIVE_FIELD_HW[1],
    ]);
    let jump_hw = quote!([#decl::JUMP_HW[0] * #jh, #decl::JUMP_HW[1] * #jw]);
    let sizes: Vec<TokenStream> = (0..2)
        .map(|a| match (out.size[a], out.sym) {
            (Some(v), _) => {
                let v = usize_lit(v);
                quote!(#v)
            }
            (None, Some(sym)) => {
                let add = proc_macro2::Literal::i128_unsuffixed(sym[a].add);
                let div = proc_macro2::Literal::i128_unsuffixed(i128::from(sym[a].div));
                quote!({
                    let n = #decl::OUTPUT_SHAPE[1 + #a];
                    if n == 0 { 0 } else { ((n as i128 + #add) / #div) as usize }
                })
            }
            (None, None) => quote!(0),
        })
        .collect();
    let cout = usize_lit(out.channels);
    let (sh, sw) = (&sizes[0], &sizes[1]);
    let output = quote!([#cout, #sh, #sw]);
    let cin = proc_macro2::Literal::usize_suffixed(stack.input.channels.value);
    let hint = match stack.dims {
        Dims::One => format!("input: {it}[_, _]"),
        Dims::Two => format!("input: {it}"),
    };
    let other_hint = match stack.dims {
        Dims::One => format!("input: {it}"),
        Dims::Two => format!("input: {it}[_, _]"),
    };
    let names = match stack.dims {
        Dims::One => ["", "length"],
        Dims::Two => ["height", "width"],
    };
    let mut size_checks = Vec::new();
    let axes: &[usize] = match stack.dims {
        Dims::One => &[1],
        Dims::Two => &[0, 1],
    };
    for &a in axes {
        let axis = names[a];
        match stack.input.sizes[a] {
            Some(v) => {
                let v = proc_macro2::Literal::usize_suffixed(v.value);
                size_checks.push(quote_spanned! {span=>
                    if OUT[1 + #a] != #v {
                        ::core::panic!("{}", concatcp!(
                            "size mismatch: `", #me, "` takes `", #it, "`'s output as its input, declared ",
                            #v, " along the ", #axis, ", but `", #it, "` gives ", OUT[1 + #a],
                            " (0: a size known only at run time)\n= help: write `_` for this size in `input: ",
                            #it, "[…]`",
                        ));
                    }
                });
            }
            None => {
                let min = proc_macro2::Literal::usize_suffixed(
                    usize::try_from(c.n_min[a]).unwrap_or(usize::MAX),
                );
                size_checks.push(quote_spanned! {span=>
                    if OUT[1 + #a] != 0 && OUT[1 + #a] < #min {
                        ::core::panic!("{}", concatcp!(
                            "no output: `", #me, "` takes `", #it, "`'s output as its input, ",
                            OUT[1 + #a], " along the ", #axis, ", but its convs need at least ",
                            #min, "\n= help: give `", #it, "` a larger output, or `", #me,
                            "` smaller kernels, rates or more padding",
                        ));
                    }
                });
            }
        }
    }
    let holes = match &c.stair {
        None => TokenStream::new(),
        Some(stair) => {
            let n = usize_lit(stair.len());
            let entries = stair
                .iter()
                .map(|&v| usize_lit(usize::try_from(v).unwrap_or(usize::MAX)));
            let sq = usize_lit(usize::try_from(c.square).unwrap_or(usize::MAX));
            let (seen, help) = match stack.dims {
                Dims::One => (
                    quote!(RF[1], " px, ", J[1], " px apart"),
                    quote!(NEED_W, " px"),
                ),
                Dims::Two => (
                    quote!(RF[0], "×", RF[1], " px, ", J[0], "×", J[1], " px apart"),
                    quote!(NEED_H, "×", NEED_W, " px"),
                ),
            };
            quote_spanned! {span=>
                const fn window(rf: usize, jump: usize, ext: usize) -> usize {
                    if ext <= 1 {
                        1
                    } else if jump == 0 {
                        0
                    } else if rf / jump > ext {
                        ext
                    } else {
                        rf / jump
                    }
                }
                const STAIR: [usize; #n] = [#(#entries),*];
                const WH: usize = window(RF[0], J[0], #eh);
                const WW: usize = window(RF[1], J[1], #ew);
                const NEED_H: usize = J[0].saturating_mul(#sq);
                const NEED_W: usize = J[1].saturating_mul(#sq);
                if !(WH >= 1 && WW >= 1 && STAIR[WH - 1] != 0 && WW >= STAIR[WH - 1]) {
                    ::core::panic!("{}", concatcp!(
                        "holes: `", #me, "` takes `", #it, "`'s output as its input, whose \
                         positions each see ", #seen, ": `", #me, "`'s taps are too far apart \
                         for those fields to meet, so some input pixels inside its receptive \
                         field are never read\n= help: give `", #it, "` a receptive field of at \
                         least ", #help, " (or lower `", #me, "`'s rates)\n= note: `check: { \
                         holes: deny | warn | allow }` sets the level of this check (only `deny` \
                         judges a composition)",
                    ));
                }
            }
        }
    };
    let checks = quote_spanned! {span=>
        const _: () = {
            use ::dilated::__private::const_format::concatcp;
            const RANK: usize = #decl::RANK;
            const OUT: [usize; 3] = #decl::OUTPUT_SHAPE;
            const RF: [usize; 2] = #decl::RECEPTIVE_FIELD_HW;
            const J: [usize; 2] = #decl::JUMP_HW;
            // Rank 0: the other stack has errors of its own (its stub); nothing to check.
            if RANK != 0 {
            if RANK != #rank {
                ::core::panic!("{}", concatcp!(
                    "rank mismatch: `", #me, "` is ", #rank, "D (`", #hint, "`) but `", #it,
                    "` is ", RANK, "D\n= help: write `", #other_hint, "`",
                ));
            }
            if OUT[0] != #cin {
                ::core::panic!("{}", concatcp!(
                    "channel mismatch: `", #me, "` takes `", #it, "`'s output as its input: `",
                    #it, "` gives ", OUT[0], " channels, `", #me, "` takes ", #cin,
                    "\n= help: make the first conv `conv(", OUT[0], " -> …)`, or give `", #it,
                    "` ", #cin, " output channels",
                ));
            }
            #(#size_checks)*
            #holes
            }
        };
    };
    // Spanned on the name, so a type that is not a stack gets one error.
    let first_run = quote_spanned! {source.span()=>
        let (mid, mid_hw) = #decl::forward_nchw_sized(first, batch, hw, input)?;
    };
    let after = quote! {
        /// Runs `first` (the stack this one takes its input from), then this stack, on
        /// flat NCHW data of spatial size `hw`; returns the flat output and its spatial
        /// size.
        #vis fn forward_nchw_after(
            &self,
            first: &#source,
            batch: usize,
            hw: [usize; 2],
            input: &[f32],
        ) -> ::core::result::Result<(::std::vec::Vec<f32>, [usize; 2]), #p::ModelError> {
            #first_run
            self.model.forward_nchw_sized(batch, mid_hw, &mid)
        }
    };
    Shapes {
        rf_hw,
        jump_hw,
        input: quote!(#decl::OUTPUT_SHAPE),
        output,
        checks,
        after,
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
    let source = stack.source.as_ref().map(|s| &s.name);
    let [h, w] = [0, 1].map(|a| match (stack.input.sizes[a], source) {
        (Some(s), _) => {
            let s = usize_lit(s.value);
            quote!(#s)
        }
        (None, Some(src)) => {
            quote!(<#src as #p::dilated_core::stack::DeclaredStack>::OUTPUT_SHAPE[1 + #a])
        }
        (None, None) => quote!(#p::DYN),
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
        match (&stack.field, &stack.source) {
            (Some(_), _) => " (input pixels, the declared input field included)".to_owned(),
            (None, Some(src)) => format!(
                " positions of `{}`'s output (`RECEPTIVE_FIELD` counts input pixels, `{}`'s \
                 field included)",
                src.name, src.name
            ),
            (None, None) => String::new(),
        },
        match (
            &stack.source,
            plan.composed.as_ref().map(|c| c.stair.is_some())
        ) {
            (Some(src), Some(true)) => format!(
                "Its input is `{}`'s output: holes are judged with that stack's field (its \
                 receptive field and jump) when the build evaluates this type's consts, so a \
                 build that passes has none. The coverage below counts positions of `{}`'s \
                 output.",
                src.name, src.name
            ),
            (Some(src), _) => format!(
                "Its input is `{}`'s output; its `check` does not deny holes, so the \
                 composition's holes are not judged. The coverage below counts positions of \
                 `{}`'s output.",
                src.name, src.name
            ),
            (None, _) => plan.verdict.clone(),
        },
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
