//! A scene's API declaration, parsed.
//!
//! ```text
//! scene_api! {
//!     crate bitcask_log;                       // the learner's crate, as the checks name it
//!     use std::io;                             // passed through to both sides
//!     pub const LOG_NAME: &str = "data.log";   // the judge uses this value
//!     pub type Command = String;               // an alias, on both sides
//!     #[derive(Debug, Clone, PartialEq, Eq)]
//!     pub struct Position { pub offset: u64, pub len: u32 }   // a value: copied across
//!     #[shared]
//!     pub struct Store { .. }                  // an object: lives in the subject
//!     impl Store {
//!         pub fn open(dir: Arc<dyn Dir>) -> io::Result<Store>;
//!         pub fn get(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>>;
//!         #[view] pub fn term(&self) -> u64;   // fetched with the others, once per change
//!     }
//!     impl Process for Node { type Message = Message; type Timer = Timer; type Saved = Saved; }
//!     impl Default for Options;
//!     pub fn crc32(bytes: &[u8]) -> u32;
//! }
//! ```

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{
    Attribute, Generics, Ident, ItemConst, ItemEnum, ItemStruct, ItemType, ItemUse, Path,
    Signature, Token, Type, Visibility, braced,
};

pub struct Declaration {
    pub krate: Ident,
    pub items: Vec<Decl>,
}

pub enum Decl {
    Use(ItemUse),
    Alias(ItemType),
    Const(ItemConst),
    Struct(ItemStruct),
    Enum(ItemEnum),
    Object(Object),
    Function(Method),
    Impl(Impl),
}

/// A type whose values live in the subject, known to the judge by a handle.
pub struct Object {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
    pub generics: Generics,
    /// Used from several threads at once (only `&self` methods).
    pub shared: bool,
}

pub struct Method {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub sig: Signature,
    /// Fetched with the type's other views in one call, and cached until the next change.
    pub view: bool,
}

pub struct Impl {
    pub span: Span,
    pub self_ty: Type,
    pub of_trait: Option<Path>,
    pub methods: Vec<Method>,
    /// `type Message = Message;` and the like, for a trait.
    pub assoc: Vec<(Ident, Type)>,
}

impl Parse for Declaration {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        input.parse::<Token![crate]>()?;
        let krate: Ident = input.parse()?;
        input.parse::<Token![;]>()?;
        let mut items = Vec::new();
        while !input.is_empty() {
            items.push(parse_item(input)?);
        }
        Ok(Declaration { krate, items })
    }
}

fn parse_item(input: ParseStream) -> syn::Result<Decl> {
    let ahead = input.fork();
    ahead.call(Attribute::parse_outer)?;
    ahead.parse::<Visibility>()?;
    if ahead.peek(Token![use]) {
        return Ok(Decl::Use(input.parse()?));
    }
    if ahead.peek(Token![type]) {
        return Ok(Decl::Alias(input.parse()?));
    }
    if ahead.peek(Token![const]) {
        return Ok(Decl::Const(input.parse()?));
    }
    if ahead.peek(Token![enum]) {
        return Ok(Decl::Enum(input.parse()?));
    }
    if ahead.peek(Token![struct]) {
        if is_object(&ahead)? {
            return parse_object(input).map(Decl::Object);
        }
        return Ok(Decl::Struct(input.parse()?));
    }
    if ahead.peek(Token![fn]) {
        return parse_method(input).map(Decl::Function);
    }
    if ahead.peek(Token![impl]) {
        return parse_impl(input).map(Decl::Impl);
    }
    Err(input.error(
        "expected `use`, `type`, `const`, `struct`, `enum`, `fn` or `impl` in a scene's API",
    ))
}

/// `struct Name<..> { .. }`: a body of just `..` makes an object.
fn is_object(ahead: ParseStream) -> syn::Result<bool> {
    ahead.parse::<Token![struct]>()?;
    ahead.parse::<Ident>()?;
    ahead.parse::<Generics>()?;
    if !ahead.peek(syn::token::Brace) {
        return Ok(false);
    }
    let body;
    braced!(body in ahead);
    Ok(body.peek(Token![..]) && {
        body.parse::<Token![..]>()?;
        body.is_empty()
    })
}

fn parse_object(input: ParseStream) -> syn::Result<Object> {
    let mut attrs = input.call(Attribute::parse_outer)?;
    let shared = take_marker(&mut attrs, "shared");
    let vis = input.parse()?;
    input.parse::<Token![struct]>()?;
    let ident = input.parse()?;
    let generics = input.parse()?;
    let body;
    braced!(body in input);
    body.parse::<Token![..]>()?;
    Ok(Object {
        attrs,
        vis,
        ident,
        generics,
        shared,
    })
}

fn parse_method(input: ParseStream) -> syn::Result<Method> {
    let mut attrs = input.call(Attribute::parse_outer)?;
    let view = take_marker(&mut attrs, "view");
    let vis = input.parse()?;
    let sig: Signature = input.parse()?;
    input.parse::<Token![;]>()?;
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "a generic method cannot cross the boundary: declare it at the types the checks use",
        ));
    }
    Ok(Method {
        attrs,
        vis,
        sig,
        view,
    })
}

fn parse_impl(input: ParseStream) -> syn::Result<Impl> {
    let span = input.span();
    input.parse::<Token![impl]>()?;
    let first: Type = input.parse()?;
    let (of_trait, self_ty) = if input.peek(Token![for]) {
        input.parse::<Token![for]>()?;
        let Type::Path(path) = first else {
            return Err(syn::Error::new(first.span(), "expected a trait"));
        };
        (Some(path.path), input.parse()?)
    } else {
        (None, first)
    };
    let mut methods = Vec::new();
    let mut assoc = Vec::new();
    if input.peek(Token![;]) {
        input.parse::<Token![;]>()?;
    } else {
        let body;
        braced!(body in input);
        while !body.is_empty() {
            if body.peek(Token![type]) {
                body.parse::<Token![type]>()?;
                let name: Ident = body.parse()?;
                body.parse::<Token![=]>()?;
                let ty: Type = body.parse()?;
                body.parse::<Token![;]>()?;
                assoc.push((name, ty));
            } else {
                methods.push(parse_method(&body)?);
            }
        }
    }
    Ok(Impl {
        span,
        self_ty,
        of_trait,
        methods,
        assoc,
    })
}

/// Removes `#[name]` from `attrs`, saying whether it was there.
fn take_marker(attrs: &mut Vec<Attribute>, name: &str) -> bool {
    let before = attrs.len();
    attrs.retain(|attr| !attr.path().is_ident(name));
    attrs.len() != before
}
