//! The methods every generated type has, chain stacks (over a `TypedStack`) and block
//! stacks (over a `Model`) alike, generated once: the constructors, the weights' way out,
//! the flat NCHW forward passes, and the `DeclaredStack` impl other stacks compose with.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

/// What a generated type runs on.
pub(crate) struct Backing {
    /// The field that holds the runtime (`stack` or `model`).
    pub(crate) field: Ident,
    /// The error type of its methods.
    pub(crate) error: TokenStream,
    /// `Self` from one of the runtime's constructors (`init`, `from_safetensors`,
    /// `from_safetensors_bytes`), given its name and its arguments.
    pub(crate) make: fn(&Ident, TokenStream) -> TokenStream,
}

/// `new_seeded`, `from_safetensors`, `from_safetensors_bytes`, `to_safetensors_bytes`,
/// `save_safetensors`, `forward_nchw`, `forward_nchw_sized`.
pub(crate) fn shared(vis: &TokenStream, b: &Backing) -> TokenStream {
    let result = quote!(::core::result::Result);
    let (field, error) = (&b.field, &b.error);
    let ctor = |name: &str, args: TokenStream| {
        let name = Ident::new(name, proc_macro2::Span::call_site());
        (b.make)(&name, args)
    };
    let seeded = ctor("init", quote!(seed));
    let from_file = ctor("from_safetensors", quote!(path));
    let from_bytes = ctor("from_safetensors_bytes", quote!(bytes));
    quote! {
        /// Seeded weights, drawn as the twin's PyTorch defaults draw them (Kaiming
        /// uniform; batch norms at identity statistics): the same seed gives the same
        /// weights.
        #vis fn new_seeded(seed: u64) -> #result<Self, #error> {
            #seeded
        }

        /// Loads the weights saved from the twin's `state_dict()` with
        /// `safetensors.torch.save_file(model.state_dict(), path)`. A missing, misshapen
        /// or extra tensor is an error that names it by its full module path.
        #vis fn from_safetensors(
            path: impl ::core::convert::AsRef<::std::path::Path>,
        ) -> #result<Self, #error> {
            #from_file
        }

        /// Loads the weights from the bytes of a safetensors file (see
        /// [`from_safetensors`](Self::from_safetensors)).
        #vis fn from_safetensors_bytes(bytes: &[u8]) -> #result<Self, #error> {
            #from_bytes
        }

        /// The weights as a safetensors file (`F32`), under the twin's names.
        #vis fn to_safetensors_bytes(&self) -> #result<::std::vec::Vec<u8>, #error> {
            self.#field.to_safetensors_bytes()
        }

        /// Writes the weights to a safetensors file (`F32`, the twin's names).
        #vis fn save_safetensors(
            &self,
            path: impl ::core::convert::AsRef<::std::path::Path>,
        ) -> #result<(), #error> {
            self.#field.save_safetensors(path)
        }

        /// Runs on flat NCHW data (`batch × C × H × W`; `batch × C × L` in 1D) and
        /// returns the flat output. One size declared `_` is inferred from the length;
        /// when height and width are both `_`, use
        /// [`forward_nchw_sized`](Self::forward_nchw_sized).
        #vis fn forward_nchw(
            &self,
            batch: usize,
            input: &[f32],
        ) -> #result<::std::vec::Vec<f32>, #error> {
            self.#field.forward_nchw(batch, input)
        }

        /// Runs on flat NCHW data of spatial size `hw` (`[1, L]` in 1D); returns the
        /// flat output and its spatial size.
        #vis fn forward_nchw_sized(
            &self,
            batch: usize,
            hw: [usize; 2],
            input: &[f32],
        ) -> #result<(::std::vec::Vec<f32>, [usize; 2]), #error> {
            self.#field.forward_nchw_sized(batch, hw, input)
        }
    }
}

/// `impl DeclaredStack for Name`, from its inherent consts and methods.
pub(crate) fn declared(name: &Ident, rank: usize, error: &TokenStream) -> TokenStream {
    let p = quote!(::dilated::__private);
    quote! {
        impl #p::dilated_core::stack::DeclaredStack for #name {
            const RANK: usize = #rank;
            const INPUT_SHAPE: [usize; 3] = #name::INPUT_SHAPE;
            const OUTPUT_SHAPE: [usize; 3] = #name::OUTPUT_SHAPE;
            const RECEPTIVE_FIELD_HW: [usize; 2] = #name::RECEPTIVE_FIELD_HW;
            const JUMP_HW: [usize; 2] = #name::JUMP_HW;
            type Error = #error;
            fn forward_nchw_sized(
                &self,
                batch: usize,
                hw: [usize; 2],
                input: &[f32],
            ) -> ::core::result::Result<(::std::vec::Vec<f32>, [usize; 2]), #error> {
                #name::forward_nchw_sized(self, batch, hw, input)
            }
        }
    }
}
