//! What the macro emits when the stack has errors (thiserror's `fallback.rs`): the errors as
//! `compile_error!`s, plus a stub of the type with the methods every stack has, so that user
//! code naming the stack does not add a cascade of "cannot find type" errors to the real
//! ones. The stub is never run: the `compile_error!` fails the build.

use proc_macro2::TokenStream;
use quote::quote;

use crate::parse::RawStack;

/// The errors, and a stub type when the struct's name is known.
pub(crate) fn expand(raw: Option<&RawStack>, error: &syn::Error) -> TokenStream {
    let errors = error.to_compile_error();
    let Some(raw) = raw else {
        return errors;
    };
    let vis = &raw.vis;
    let name = &raw.name;
    let p = quote!(::dilated::__private);
    quote! {
        #errors
        #[allow(dead_code, unreachable_code, unused_variables)]
        #[derive(Debug, Clone)]
        #vis struct #name;
        #[allow(dead_code, unreachable_code, unused_variables, missing_docs)]
        impl #name {
            pub const RECEPTIVE_FIELD: usize = 0;
            pub const RECEPTIVE_FIELD_HW: [usize; 2] = [0, 0];
            pub const JUMP_HW: [usize; 2] = [0, 0];
            pub const RATES: &'static [usize] = &[];
            pub const INPUT_SHAPE: [usize; 3] = [0, 0, 0];
            pub const OUTPUT_SHAPE: [usize; 3] = [0, 0, 0];
            pub fn new_seeded(seed: u64) -> ::core::result::Result<Self, #p::Error> {
                ::core::unreachable!()
            }
            pub fn from_safetensors(
                path: impl ::core::convert::AsRef<::std::path::Path>,
            ) -> ::core::result::Result<Self, #p::Error> {
                ::core::unreachable!()
            }
            pub fn from_safetensors_bytes(
                bytes: &[u8],
            ) -> ::core::result::Result<Self, #p::Error> {
                ::core::unreachable!()
            }
            pub fn to_safetensors_bytes(
                &self,
            ) -> ::core::result::Result<::std::vec::Vec<u8>, #p::Error> {
                ::core::unreachable!()
            }
            pub fn forward_nchw(
                &self,
                batch: usize,
                input: &[f32],
            ) -> ::core::result::Result<::std::vec::Vec<f32>, #p::Error> {
                ::core::unreachable!()
            }
            pub fn forward_nchw_sized(
                &self,
                batch: usize,
                hw: [usize; 2],
                input: &[f32],
            ) -> ::core::result::Result<(::std::vec::Vec<f32>, [usize; 2]), #p::Error> {
                ::core::unreachable!()
            }
        }
        // Rank 0: a stack that takes this one as its input skips its composition checks
        // (this stack's own errors are the ones to fix).
        #[allow(dead_code, unreachable_code, unused_variables, missing_docs)]
        impl #p::dilated_core::stack::DeclaredStack for #name {
            const RANK: usize = 0;
            const INPUT_SHAPE: [usize; 3] = [0, 0, 0];
            const OUTPUT_SHAPE: [usize; 3] = [0, 0, 0];
            const RECEPTIVE_FIELD_HW: [usize; 2] = [0, 0];
            const JUMP_HW: [usize; 2] = [0, 0];
            type Error = #p::Error;
            fn forward_nchw_sized(
                &self,
                batch: usize,
                hw: [usize; 2],
                input: &[f32],
            ) -> ::core::result::Result<(::std::vec::Vec<f32>, [usize; 2]), #p::Error> {
                ::core::unreachable!()
            }
        }
    }
}
