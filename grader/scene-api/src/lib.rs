//! A scene's API, declared once on the trusted side, from which both sides of the boundary are
//! generated: [`judge_api!`] makes proxies with the learner's names for the checks to call,
//! and [`subject_api!`] makes the dispatcher that calls the learner's real items. A declaration
//! that no longer matches the learner's crate fails to compile on the subject's side.
//!
//! See `model.rs` for the form of a declaration.

mod judge;
mod model;
mod plan;
mod subject;
mod types;

use proc_macro::TokenStream;

/// The judge's side: proxies, mirrors of the value types, and the dispatch unit's slot.
#[proc_macro]
pub fn judge_api(input: TokenStream) -> TokenStream {
    expand(input, judge::expand)
}

/// The subject's side, once per subject: the mirrors of the value types, which cross the wire.
#[proc_macro]
pub fn subject_mirrors(input: TokenStream) -> TokenStream {
    expand(input, subject::mirrors)
}

/// The subject's side, once per implementation it holds: conversions between the mirrors (in
/// scope, from [`subject_mirrors!`]) and the learner's types, and a dispatcher.
#[proc_macro]
pub fn subject_api(input: TokenStream) -> TokenStream {
    expand(input, subject::expand)
}

fn expand(
    input: TokenStream,
    side: fn(&plan::Plan) -> syn::Result<proc_macro2::TokenStream>,
) -> TokenStream {
    let fingerprint = fingerprint(&input.to_string());
    let declaration = syn::parse_macro_input!(input as model::Declaration);
    match plan::Plan::new(declaration, fingerprint).and_then(|plan| side(&plan)) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// FNV-1a of the declaration's text: both sides hash the same tokens.
fn fingerprint(text: &str) -> u64 {
    text.bytes().fold(0xCBF2_9CE4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}
