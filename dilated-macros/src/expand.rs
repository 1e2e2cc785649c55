//! Phase 3: a checked stack → code.
//!
//! The generated type is a struct of dilated-core's const-generic layer shells (channels,
//! kernel, rate, stride, groups as const parameters; the padding the macro computed written
//! as literals in a `Pad2d`/`Pad1d`), plus the typed stack that runs them, and consts. The
//! typed layers are views of the stack's layers: they share its weights (one allocation)
//! and pack nothing unless run on their own, so the struct holds its weights once and the
//! packed copy only in the stack's network. The compute core underneath is non-generic
//! (the engine runs run-time descriptors), so twenty stacks cost twenty thin shells, not
//! twenty monomorphised convolution kernels. Expansion never re-checks and never fails: the
//! input was validated.
//!
//! Expands to, roughly:
//!
//! ```text
//! /// (the user's docs) + a table of the layers, the coverage row, the heat map
//! #[derive(Debug, Clone)]
//! pub struct Hdc {
//!     conv0: Conv2d<64, 64, 3, 3, 1, 1, 1, 1, 1, Pad2d<1, 1, 1, 1>>,
//!     conv1: Conv2d<64, 64, 3, 3, 2, 2, 1, 1, 1, Pad2d<2, 2, 2, 2>>,
//!     conv2: Conv2d<64, 64, 3, 3, 5, 5, 1, 1, 1, Pad2d<5, 5, 5, 5>>,
//!     stack: TypedStack<Tensor2d<64, 128, 128>, Tensor2d<64, 128, 128>>,
//! }
//! impl Hdc {
//!     pub const RECEPTIVE_FIELD: usize = 17;
//!     pub const RATES: &'static [usize] = &[1, 2, 5];
//!     pub const LAYERS: [ModuleSpec; 3] = [ModuleSpec::new(0, Rank::Two, <Conv2d<…>>::descriptor(true, Activation::Relu)), …];
//!     pub fn from_safetensors(path: impl AsRef<Path>) -> Result<Self, Error> { … }
//!     pub fn forward(&self, x: &Tensor2d<64, 128, 128>) -> Result<Tensor2d<64, 128, 128>, Error> { … }
//!     …
//! }
//! ```

use std::fmt::Write as _;

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use crate::ast::{Act, Conv, Dims, Stack};
use crate::ctxt::{Ctxt, Warning};
use crate::parse;
use crate::valid::{self, ModulePlan, Plan};
use crate::{ast, fallback};

/// The whole macro: parse → model → check → expand, or the errors and a stub; warnings
/// either way.
pub(crate) fn stack(input: TokenStream) -> TokenStream {
    let raw = match parse::parse(input) {
        Ok(raw) => raw,
        Err(err) => return fallback::expand(None, &err),
    };
    let cx = Ctxt::new();
    let stack = ast::from_raw(&cx, &raw);
    if let Some(s) = stack.as_ref().filter(|s| !s.is_chain()) {
        let plan = crate::graph::check(&cx, s);
        let (error, warnings) = cx.finish();
        return match (error, plan) {
            (None, Some(plan)) => crate::model::expand(s, &plan, &warnings),
            (error, _) => {
                let error = error.unwrap_or_else(|| {
                    syn::Error::new(raw.name.span(), "this stack could not be checked")
                });
                let warnings = warnings.iter().map(warning);
                let stub = fallback::expand(Some(&raw), &error);
                quote!(#(#warnings)* #stub)
            }
        };
    }
    let plan = stack.as_ref().and_then(|s| valid::check(&cx, s));
    let (error, warnings) = cx.finish();
    match (error, stack, plan) {
        (None, Some(stack), Some(plan)) => expand(&stack, &plan, &warnings),
        (error, ..) => {
            // Every path that yields no plan records an error first; the fallback message
            // is a safety net.
            let error = error.unwrap_or_else(|| {
                syn::Error::new(raw.name.span(), "this stack could not be checked")
            });
            let warnings = warnings.iter().map(warning);
            let stub = fallback::expand(Some(&raw), &error);
            quote!(#(#warnings)* #stub)
        }
    }
}

pub(crate) fn usize_lit(v: usize) -> Literal {
    Literal::usize_unsuffixed(v)
}

/// `[h, w]` as written in docs: one number when both axes agree or the stack is 1D.
fn axes(dims: Dims, v: [usize; 2]) -> String {
    match dims {
        Dims::One => v[1].to_string(),
        Dims::Two if v[0] == v[1] => v[0].to_string(),
        Dims::Two => format!("{}×{}", v[0], v[1]),
    }
}

fn size_text(v: Option<usize>) -> String {
    v.map_or_else(|| "_".to_owned(), |v| v.to_string())
}

fn shape_text(dims: Dims, c: usize, hw: [Option<usize>; 2]) -> String {
    match dims {
        Dims::One => format!("{c}×{}", size_text(hw[1])),
        Dims::Two => format!("{c}×{}×{}", size_text(hw[0]), size_text(hw[1])),
    }
}

pub(crate) fn act_tokens(act: Option<Act>) -> TokenStream {
    let p = quote!(::dilated::__private);
    match act {
        None => quote!(#p::Activation::Identity),
        Some(Act::Relu) => quote!(#p::Activation::Relu),
        Some(Act::LeakyRelu(s)) => {
            let s = Literal::f32_suffixed(s);
            quote!(#p::Activation::LeakyRelu(#s))
        }
        Some(Act::Gelu) => quote!(#p::Activation::Gelu),
        Some(Act::Tanh) => quote!(#p::Activation::Tanh),
        Some(Act::Sigmoid) => quote!(#p::Activation::Sigmoid),
        Some(Act::Silu) => quote!(#p::Activation::Silu),
    }
}

/// The generated rustdoc: a summary, a table of the layers, the coverage row and the map.
fn docs(stack: &Stack, plan: &Plan) -> String {
    let dims = stack.dims;
    let convs: Vec<_> = stack.convs().collect();
    let mut d = String::new();
    let _ = writeln!(
        d,
        "**Dilated stack**, {}: {} convolution{}, input `{}`, output `{}`, receptive field \
         {}. {}",
        if dims == Dims::One { "1D" } else { "2D" },
        convs.len(),
        if convs.len() == 1 { "" } else { "s" },
        shape_text(
            dims,
            stack.input.channels.value,
            stack.input.sizes.map(|s| s.map(|s| s.value))
        ),
        shape_text(dims, plan.out_channels, plan.output),
        axes(dims, plan.rf),
        plan.verdict,
    );
    d.push('\n');
    layer_table(&mut d, dims, &convs, plan);
    d.push('\n');
    coverage_rows(&mut d, dims, plan);
    heat_map(&mut d, plan);
    d
}

/// One row per conv: channels, kernel, rate, effective kernel, stride, groups, padding,
/// activation, output, receptive field.
fn layer_table(d: &mut String, dims: Dims, convs: &[&Conv], plan: &Plan) {
    d.push_str(
        "| # | module | channels | kernel | rate | effective kernel | stride | groups | padding \
         | activation | output | receptive field |\n",
    );
    d.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (i, (c, l)) in convs.iter().zip(&plan.layers).enumerate() {
        let pad = match dims {
            Dims::One => format!("{}, {}", l.padding[1][0], l.padding[1][1]),
            Dims::Two => format!(
                "{}, {} / {}, {}",
                l.padding[0][0], l.padding[0][1], l.padding[1][0], l.padding[1][1]
            ),
        };
        let _ = writeln!(
            d,
            "| {i} | `{}` | {} → {} | {} | {} | {} | {} | {} | {} | {} | `{}` | {} |",
            l.module,
            c.in_channels.value,
            c.out_channels.value,
            axes(dims, c.kernel.map(|k| k.value)),
            axes(dims, c.rate.map(|k| k.value)),
            axes(dims, l.effective),
            axes(dims, c.stride.map(|k| k.value)),
            c.groups.value,
            pad,
            l.act.map_or_else(|| "—".to_owned(), Act::torch_name),
            shape_text(dims, c.out_channels.value, l.out),
            axes(dims, l.rf),
        );
    }
}

/// The coverage row of each axis (once when both agree), or why it is not listed.
fn coverage_rows(d: &mut String, dims: Dims, plan: &Plan) {
    for (axis, name) in [(0usize, "height"), (1, "width")] {
        if dims == Dims::One && axis == 0 {
            continue;
        }
        if dims == Dims::Two && axis == 1 && plan.coverage[0] == plan.coverage[1] {
            continue;
        }
        let label = match dims {
            Dims::One => "Coverage".to_owned(),
            Dims::Two if plan.coverage[0] == plan.coverage[1] => "Coverage (each axis)".to_owned(),
            Dims::Two => format!("Coverage ({name})"),
        };
        match &plan.coverage[axis] {
            Some(row) => {
                let _ = writeln!(
                    d,
                    "{label}: how many paths lead from one output position to each input \
                     offset, from the leftmost to the rightmost reachable one (0 = a hole):\n\n\
                     ```text\n{row}\n```\n"
                );
            }
            None => {
                let _ = writeln!(
                    d,
                    "{label}: the receptive field is too wide to list the counts here.\n"
                );
            }
        }
    }
}

/// The heat map inline (one line: a blank line would end Markdown's HTML block), or where
/// to draw it.
fn heat_map(d: &mut String, plan: &Plan) {
    match &plan.svg {
        Some(svg) => {
            d.push_str("Coverage heat map (the count of paths to each input position):\n\n");
            // Markdown ends an HTML block at a blank line: keep the picture on one line.
            d.push_str(&svg.replace(['\n', '\r'], " "));
            d.push('\n');
        }
        None => {
            d.push_str(
                "The coverage heat map is too large to embed; draw it with `dilated map`.\n",
            );
        }
    }
}

/// A warning on stable Rust: the use of a `#[deprecated]` const, spanned on the token.
pub(crate) fn warning(w: &Warning) -> TokenStream {
    let name = format_ident!("dilated_{}", w.check);
    let note = &w.message;
    // The use carries the offending token's span, so the lint points there.
    let use_site = Ident::new(&name.to_string(), w.span);
    quote! {
        const _: () = {
            #[deprecated(note = #note)]
            #[allow(non_upper_case_globals)]
            const #name: () = ();
            #use_site
        };
    }
}

/// The generated type: its docs, the struct of typed layers over the typed stack, and its
/// `impl` (consts, loading, running).
fn expand(stack: &Stack, plan: &Plan, warnings: &[Warning]) -> TokenStream {
    let p = quote!(::dilated::__private);
    let name = &stack.name;
    let vis = &stack.vis;
    let attrs = &stack.attrs;
    let convs: Vec<&Conv> = stack.convs().collect();
    let doc = docs(stack, plan);
    let layer_types: Vec<TokenStream> = convs
        .iter()
        .zip(&plan.layers)
        .map(|(c, l)| layer_type(stack.dims, c, l))
        .collect();
    let fields: Vec<Ident> = (0..convs.len())
        .map(|i| format_ident!("conv{}", i))
        .collect();
    let (in_ty, out_ty) = tensor_types(stack, plan);
    let warnings = warnings.iter().map(warning);
    let consts = consts(stack, plan, &convs, &layer_types);
    let loading = loading(vis, &fields);
    let running = running(vis, &layer_types, &fields, &in_ty, &out_ty);
    let declared = crate::api::declared(
        name,
        match stack.dims {
            Dims::One => 1,
            Dims::Two => 2,
        },
        &quote!(::dilated::__private::Error),
    );

    quote! {
        #(#warnings)*

        #attrs
        #[doc = ""]
        #[doc = #doc]
        #[derive(Debug, Clone)]
        #vis struct #name {
            #(#fields: #layer_types,)*
            stack: #p::TypedStack<#in_ty, #out_ty>,
        }

        #[allow(dead_code)]
        impl #name {
            #consts
            #loading
            #running
        }

        #declared
    }
}

/// One conv's const-generic type, its padding written as literals.
fn layer_type(dims: Dims, c: &Conv, l: &ModulePlan) -> TokenStream {
    let p = quote!(::dilated::__private);
    let cin = usize_lit(c.in_channels.value);
    let cout = usize_lit(c.out_channels.value);
    let g = usize_lit(c.groups.value);
    let [kh, kw] = c.kernel.map(|v| usize_lit(v.value));
    let [dh, dw] = c.rate.map(|v| usize_lit(v.value));
    let [sh, sw] = c.stride.map(|v| usize_lit(v.value));
    let [[pt, pb], [pl, pr]] = l.padding.map(|a| a.map(usize_lit));
    match dims {
        Dims::One => quote! {
            #p::Conv1d<#cin, #cout, #kw, #dw, #sw, #g, #p::Pad1d<#pl, #pr>>
        },
        Dims::Two => quote! {
            #p::Conv2d<#cin, #cout, #kh, #kw, #dh, #dw, #sh, #sw, #g,
                #p::Pad2d<#pt, #pb, #pl, #pr>>
        },
    }
}

/// The typed input and output tensors (`DYN` for a size known at run time).
fn tensor_types(stack: &Stack, plan: &Plan) -> (TokenStream, TokenStream) {
    let p = quote!(::dilated::__private);
    let dyn_or = |v: Option<usize>| v.map_or_else(|| quote!({ #p::DYN }), |v| quote!(#v));
    let cin = usize_lit(stack.input.channels.value);
    let cout = usize_lit(plan.out_channels);
    let in_hw = stack.input.sizes.map(|s| dyn_or(s.map(|s| s.value)));
    let out_hw = plan.output.map(dyn_or);
    match stack.dims {
        Dims::One => {
            let (l, lo) = (&in_hw[1], &out_hw[1]);
            (
                quote!(#p::Tensor1d<#cin, #l>),
                quote!(#p::Tensor1d<#cout, #lo>),
            )
        }
        Dims::Two => {
            let ([h, w], [ho, wo]) = (&in_hw, &out_hw);
            (
                quote!(#p::Tensor2d<#cin, #h, #w>),
                quote!(#p::Tensor2d<#cout, #ho, #wo>),
            )
        }
    }
}

/// The consts every number the macro settled is published as: receptive field, rates,
/// paddings, shapes, module indices and the run-time descriptors.
fn consts(stack: &Stack, plan: &Plan, convs: &[&Conv], layer_types: &[TokenStream]) -> TokenStream {
    let p = quote!(::dilated::__private);
    let vis = &stack.vis;
    let n = usize_lit(convs.len());
    let rank = match stack.dims {
        Dims::One => quote!(#p::Rank::One),
        Dims::Two => quote!(#p::Rank::Two),
    };
    let specs = convs
        .iter()
        .zip(&plan.layers)
        .zip(layer_types)
        .map(|((c, l), ty)| {
            let module = usize_lit(l.module);
            let bias = c.bias;
            let act = act_tokens(l.act);
            quote!(#p::ModuleSpec::new(#module, #rank, <#ty>::descriptor(#bias, #act)))
        });
    let modules = plan.layers.iter().map(|l| usize_lit(l.module));
    let rates = convs.iter().map(|c| usize_lit(c.rate[1].value));
    let paddings = plan.layers.iter().map(|l| {
        let [[pt, pb], [pl, pr]] = l.padding.map(|a| a.map(usize_lit));
        quote!([[#pt, #pb], [#pl, #pr]])
    });
    let shape3 = |c: usize, hw: [Option<usize>; 2]| {
        let c = usize_lit(c);
        let [h, w] = hw.map(|v| usize_lit(v.unwrap_or(0)));
        quote!([#c, #h, #w])
    };
    let layer_shapes = convs
        .iter()
        .zip(&plan.layers)
        .map(|(c, l)| shape3(c.out_channels.value, l.out));
    let in_shape = shape3(
        stack.input.channels.value,
        stack.input.sizes.map(|s| s.map(|s| s.value)),
    );
    let out_shape = shape3(plan.out_channels, plan.output);
    let [rf_h, rf_w] = plan.rf.map(usize_lit);
    let twin = crate::twin::chain_twin(stack);
    let rf = match stack.dims {
        Dims::One => rf_w.clone(),
        Dims::Two => usize_lit(plan.rf[0].max(plan.rf[1])),
    };
    let [jump_h, jump_w] = [0, 1].map(|a| {
        usize_lit(
            convs
                .iter()
                .fold(1usize, |j, c| j.saturating_mul(c.stride[a].value)),
        )
    });
    quote! {
        /// The receptive field of the whole stack (the wider axis in 2D).
        #vis const RECEPTIVE_FIELD: usize = #rf;
        /// The receptive field per axis, `[height, width]` (`height` = 1 in 1D).
        #vis const RECEPTIVE_FIELD_HW: [usize; 2] = [#rf_h, #rf_w];
        /// Input pixels between neighbouring output positions, per axis `[height, width]`
        /// (the product of the strides).
        #vis const JUMP_HW: [usize; 2] = [#jump_h, #jump_w];
        /// The dilation rate of each convolution (the width axis in 2D).
        #vis const RATES: &'static [usize] = &[#(#rates),*];
        /// Each convolution's padding, `[[top, bottom], [left, right]]`.
        #vis const PADDING: [[[usize; 2]; 2]; #n] = [#(#paddings),*];
        /// The input shape `[C, H, W]` (`H` = 1 in 1D); 0 marks a size known only at run time.
        #vis const INPUT_SHAPE: [usize; 3] = #in_shape;
        /// Each convolution's output shape `[C, H, W]`; 0 marks a run-time size.
        #vis const LAYER_OUTPUT_SHAPES: [[usize; 3]; #n] = [#(#layer_shapes),*];
        /// The output shape `[C, H, W]`; 0 marks a run-time size.
        #vis const OUTPUT_SHAPE: [usize; 3] = #out_shape;
        /// The module index of each convolution in the stack's twin `torch.nn.Sequential`
        /// (its weights are `{i}.weight`, `{i}.bias`).
        #vis const MODULE_INDICES: [usize; #n] = [#(#modules),*];
        /// The convolutions: module index, rank and run-time descriptor.
        #vis const LAYERS: [#p::ModuleSpec; #n] = [#(#specs),*];
        /// The Python source of the twin `torch.nn.Sequential` subclass (imports only
        /// `torch`): its `state_dict()`, saved with `safetensors.torch.save_file`, loads
        /// with `from_safetensors`, and its `forward` computes what `forward` computes.
        #vis const PYTORCH: &'static str = #twin;
    }
}

/// The constructors (seeded, from safetensors), the weights' way back out and the flat
/// forward passes, shared with block stacks ([`crate::api::shared`]).
fn loading(vis: &TokenStream, fields: &[Ident]) -> TokenStream {
    let p = quote!(::dilated::__private);
    let result = quote!(::core::result::Result);
    let indices = (0..fields.len()).map(usize_lit);
    let shared = crate::api::shared(
        vis,
        &crate::api::Backing {
            field: format_ident!("stack"),
            error: quote!(#p::Error),
            make: |ctor, args| {
                let p = quote!(::dilated::__private);
                quote!(Self::from_stack(#p::Stack::#ctor(&Self::LAYERS, #args)?))
            },
        },
    );
    quote! {
        fn from_stack(stack: #p::Stack) -> #result<Self, #p::Error> {
            let stack = #p::TypedStack::new(stack)?;
            #result::Ok(Self {
                #(#fields: stack.layer(#indices)?,)*
                stack,
            })
        }

        #shared
    }
}

/// The typed layers, the runtime stack, and the forward passes (typed and flat NCHW).
fn running(
    vis: &TokenStream,
    layer_types: &[TokenStream],
    fields: &[Ident],
    in_ty: &TokenStream,
    out_ty: &TokenStream,
) -> TokenStream {
    let p = quote!(::dilated::__private);
    let result = quote!(::core::result::Result);
    quote! {
        /// The typed layers, in order (e.g. `.weight()`, `.bias()`). They share the
        /// stack's weights (no copy); one run on its own packs its weights on first use.
        #vis fn layers(&self) -> (#(&#layer_types,)*) {
            (#(&self.#fields,)*)
        }

        /// The untyped runtime stack.
        #vis fn stack(&self) -> &#p::Stack {
            self.stack.stack()
        }

        /// Runs the stack on a typed batch: the channels (and the sizes declared in
        /// `input`) are part of the types, so a wrong tensor is a type error.
        #vis fn forward(&self, input: &#in_ty) -> #result<#out_ty, #p::Error> {
            self.stack.forward(input)
        }

        /// Runs the stack into `output`, reusing the scratch memory `ws`.
        #vis fn forward_into(
            &self,
            input: &#in_ty,
            output: &mut #out_ty,
            ws: &mut #p::Workspace,
        ) -> #result<(), #p::Error> {
            self.stack.forward_into(input, output, ws)
        }

    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proc_macro2::TokenStream;

    /// The doc string the expansion attaches to the struct (the second `#[doc]`).
    fn generated_doc(src: &str) -> String {
        let out = super::stack(TokenStream::from_str(src).expect("lexes"));
        let file = out.to_string();
        assert!(!file.contains("compile_error"), "{file}");
        let ts: Vec<proc_macro2::TokenTree> = out.into_iter().collect();
        // Find `#[doc = "…"]` attributes and return the longest (the generated one).
        let mut docs = Vec::new();
        for tt in &ts {
            if let proc_macro2::TokenTree::Group(g) = tt {
                let inner: Vec<_> = g.stream().into_iter().collect();
                if let [
                    proc_macro2::TokenTree::Ident(i),
                    _,
                    proc_macro2::TokenTree::Literal(l),
                ] = inner.as_slice()
                    && i == "doc"
                {
                    let lit: syn::LitStr = syn::parse_str(&l.to_string()).expect("a string");
                    docs.push(lit.value());
                }
            }
        }
        docs.into_iter().max_by_key(String::len).unwrap_or_default()
    }

    #[test]
    fn docs_have_the_table_the_coverage_row_and_the_heat_map() {
        let doc = generated_doc(
            "/// Mine.\npub struct S { input: [2, 16], kernel: 3, rates: [1, 2], activation: relu }",
        );
        assert!(doc.contains("receptive field 7"), "{doc}");
        assert!(
            doc.contains("| 1 | `2` | 2 → 2 | 3 | 2 | 5 | 1 | 1 | 2, 2 | ReLU | `2×16` | 7 |"),
            "{doc}"
        );
        // k = 3, rates 1, 2: the classic counts.
        assert!(doc.contains("1 1 2 1 2 1 1"), "{doc}");
        let svg_start = doc.find("<svg").expect("an inline SVG");
        let svg = &doc[svg_start..];
        assert!(svg.contains("</svg>"));
        // One line: a blank line would end Markdown's HTML block.
        assert!(!svg[..svg.find("</svg>").unwrap_or(svg.len())].contains('\n'));
        assert!(doc.contains("No holes"), "{doc}");
    }

    #[test]
    fn allowed_gridding_is_said_in_the_docs() {
        let doc = generated_doc(
            "struct S { input: [1, 64], kernel: 3, rates: [2, 4, 8], check: { holes: allow, hdc3: allow } }",
        );
        assert!(doc.contains("Holes (gridding)"), "{doc}");
        assert!(doc.contains("1 0 1 0 2 0 1 0 3"), "{doc}");
    }

    #[test]
    fn big_maps_are_left_to_the_command() {
        let doc = generated_doc(
            "struct S { input: [1, _], layers: [conv(1 -> 1, kernel: 2, rate: 1, padding: causal), \
             conv(1 -> 1, kernel: 2, rate: 2, padding: causal), conv(1 -> 1, kernel: 2, rate: 4, \
             padding: causal), conv(1 -> 1, kernel: 2, rate: 8, padding: causal), conv(1 -> 1, \
             kernel: 2, rate: 2048, padding: causal)], check: { holes: allow, hdc: allow } }",
        );
        assert!(!doc.contains("<svg"));
        assert!(doc.contains("dilated map"), "{doc}");
    }
}
