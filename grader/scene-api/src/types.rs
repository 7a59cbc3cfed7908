//! How each declared type crosses the boundary.
//!
//! Every type has a *wire* form, which both sides share and serde encodes: the type itself for
//! plain data (numbers, strings, `Duration`, std containers), the mirror of a declared value
//! type (a struct or enum with the same fields, defined on both sides), a `u64` handle for an
//! object or a lent directory, `WireError` for an `io::Error`, and owned forms of borrowed
//! types (`&[T]` travels as `Vec<T>`). The subject converts wire values into the learner's
//! types and back; the judge hands borrowed returns out of a proxy's keep.

use std::collections::{HashMap, HashSet};

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{GenericArgument, Ident, PathArguments, Type, TypeParamBound};

/// What the declaration says about names.
pub struct Known {
    pub krate: Ident,
    pub values: HashSet<String>,
    /// Objects, and whether each is shared between threads.
    pub objects: HashMap<String, bool>,
}

/// The type `Self` stands for, where there is one.
#[derive(Clone, Copy)]
pub enum SelfIs<'a> {
    Nothing,
    Value(&'a Type),
    Object(&'a Type),
}

/// A parameter, by how it crosses.
pub enum Param<'a> {
    /// Encoded as is (`T` or `&T`, `&[T]`, `&str`): the subject owns a copy.
    Plain(&'a Type),
    /// `&mut T`: sent, and sent back changed.
    InOut(&'a Type),
    /// `impl Into<T>`: converted on the judge's side, sent as `T`.
    Into(&'a Type),
    /// `&dyn Dir`: lent for the call.
    LentDir,
    /// `Arc<dyn Dir>`: handed over.
    KeptDir,
    /// `TcpListener`: a socket the judge made and bound, handed over (the judge connects to
    /// it as a client would, whatever network the subject's process sees).
    Listener,
    /// `&mut Ctx<N>`: a sans-IO handler's context for node type `N`.
    NetCtx(&'a Type),
}

pub fn last_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(path) if path.qself.is_none() => {
            path.path.segments.last().map(|s| s.ident.to_string())
        }
        Type::Group(group) => last_name(&group.elem),
        Type::Paren(paren) => last_name(&paren.elem),
        _ => None,
    }
}

/// The type arguments of a path type's last segment.
pub fn type_args(ty: &Type) -> Vec<&Type> {
    let Type::Path(path) = ty else {
        return Vec::new();
    };
    let Some(last) = path.path.segments.last() else {
        return Vec::new();
    };
    match &last.arguments {
        PathArguments::AngleBracketed(args) => args
            .args
            .iter()
            .filter_map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn is_dyn_dir(ty: &Type) -> bool {
    match ty {
        Type::TraitObject(object) => object.bounds.iter().any(|bound| match bound {
            TypeParamBound::Trait(t) => t.path.segments.last().is_some_and(|s| s.ident == "Dir"),
            _ => false,
        }),
        Type::Paren(paren) => is_dyn_dir(&paren.elem),
        _ => false,
    }
}

/// `io::Result<T>` (or a one-argument `Result`): its `T`.
fn io_result(ty: &Type) -> Option<&Type> {
    if last_name(ty)? != "Result" {
        return None;
    }
    match type_args(ty).as_slice() {
        [ok] => Some(ok),
        _ => None,
    }
}

fn is_io_error(ty: &Type) -> bool {
    let Type::Path(path) = ty else { return false };
    let names: Vec<String> = path
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    names.ends_with(&["io".into(), "Error".into()])
}

impl Known {
    pub fn is_value(&self, ty: &Type, this: SelfIs) -> bool {
        match last_name(ty).as_deref() {
            Some("Self") => matches!(this, SelfIs::Value(_)),
            Some(name) => self.values.contains(name),
            None => false,
        }
    }

    pub fn is_object(&self, ty: &Type, this: SelfIs) -> bool {
        match last_name(ty).as_deref() {
            Some("Self") => matches!(this, SelfIs::Object(_)),
            Some(name) => self.objects.contains_key(name),
            None => false,
        }
    }

    pub fn classify<'a>(&self, ty: &'a Type) -> Param<'a> {
        match ty {
            Type::Reference(r) if r.mutability.is_some() => {
                if last_name(&r.elem).as_deref() == Some("Ctx")
                    && let [node] = type_args(&r.elem).as_slice()
                {
                    return Param::NetCtx(node);
                }
                Param::InOut(&r.elem)
            }
            Type::Reference(r) if is_dyn_dir(&r.elem) => Param::LentDir,
            Type::ImplTrait(bound) => {
                let into = bound.bounds.iter().find_map(|b| match b {
                    TypeParamBound::Trait(t) => {
                        let last = t.path.segments.last()?;
                        if last.ident != "Into" {
                            return None;
                        }
                        match &last.arguments {
                            PathArguments::AngleBracketed(args) => {
                                args.args.iter().find_map(|a| match a {
                                    GenericArgument::Type(ty) => Some(ty),
                                    _ => None,
                                })
                            }
                            _ => None,
                        }
                    }
                    _ => None,
                });
                match into {
                    Some(target) => Param::Into(target),
                    None => Param::Plain(ty),
                }
            }
            _ if last_name(ty).as_deref() == Some("Arc")
                && type_args(ty).first().is_some_and(|t| is_dyn_dir(t)) =>
            {
                Param::KeptDir
            }
            _ if last_name(ty).as_deref() == Some("TcpListener") => Param::Listener,
            _ => Param::Plain(ty),
        }
    }

    /// The wire form of `ty`.
    pub fn wire(&self, ty: &Type, this: SelfIs) -> TokenStream {
        match ty {
            Type::Reference(r) => match &*r.elem {
                Type::Slice(slice) => {
                    let elem = self.wire(&slice.elem, this);
                    quote!(::std::vec::Vec<#elem>)
                }
                elem if last_name(elem).as_deref() == Some("str") => quote!(::std::string::String),
                elem if is_dyn_dir(elem) => quote!(u64),
                elem => self.wire(elem, this),
            },
            Type::Slice(slice) => {
                let elem = self.wire(&slice.elem, this);
                quote!(::std::vec::Vec<#elem>)
            }
            Type::Tuple(tuple) => {
                let elems = tuple.elems.iter().map(|t| self.wire(t, this));
                quote!((#(#elems,)*))
            }
            Type::Paren(paren) => self.wire(&paren.elem, this),
            Type::Group(group) => self.wire(&group.elem, this),
            Type::ImplTrait(_) => match self.classify(ty) {
                Param::Into(target) => self.wire(target, this),
                _ => quote!(#ty),
            },
            Type::Path(_) => self.wire_path(ty, this),
            other => quote!(#other),
        }
    }

    fn wire_path(&self, ty: &Type, this: SelfIs) -> TokenStream {
        if self.is_object(ty, this) {
            return quote!(u64);
        }
        if let (Some("Self"), SelfIs::Value(value)) = (last_name(ty).as_deref(), this) {
            return self.wire(value, SelfIs::Nothing);
        }
        if is_io_error(ty) {
            return quote!(::wire::frame::WireError);
        }
        if let Some(ok) = io_result(ty) {
            let ok = self.wire(ok, this);
            return quote!(::std::result::Result<#ok, ::wire::frame::WireError>);
        }
        if matches!(self.classify(ty), Param::KeptDir | Param::Listener) {
            return quote!(u64);
        }
        // Any other path: the same path, its type arguments in wire form.
        let Type::Path(path) = ty else {
            unreachable!("a path")
        };
        let mut path = path.clone();
        if let Some(last) = path.path.segments.last_mut()
            && let PathArguments::AngleBracketed(args) = &mut last.arguments
        {
            for arg in args.args.iter_mut() {
                if let GenericArgument::Type(inner) = arg {
                    let wired = self.wire(inner, this);
                    *inner = syn::parse2(wired).expect("a wire type parses as a type");
                }
            }
        }
        quote!(#path)
    }

    /// `ty` as the learner's crate names it (declared names qualified with the crate).
    pub fn learner(&self, ty: &Type, this: SelfIs) -> TokenStream {
        let krate = &self.krate;
        match ty {
            Type::Reference(r) => {
                let elem = self.learner(&r.elem, this);
                match r.mutability {
                    Some(_) => quote!(&mut #elem),
                    None => quote!(&#elem),
                }
            }
            Type::Slice(slice) => {
                let elem = self.learner(&slice.elem, this);
                quote!([#elem])
            }
            Type::Tuple(tuple) => {
                let elems = tuple.elems.iter().map(|t| self.learner(t, this));
                quote!((#(#elems,)*))
            }
            Type::Path(path) if path.qself.is_none() => {
                let name = last_name(ty).unwrap_or_default();
                if name == "Self" {
                    return match this {
                        SelfIs::Value(t) | SelfIs::Object(t) => self.learner(t, SelfIs::Nothing),
                        SelfIs::Nothing => quote!(Self),
                    };
                }
                let mut path = path.clone();
                if let Some(last) = path.path.segments.last_mut()
                    && let PathArguments::AngleBracketed(args) = &mut last.arguments
                {
                    for arg in args.args.iter_mut() {
                        if let GenericArgument::Type(inner) = arg {
                            let learner = self.learner(inner, this);
                            *inner = syn::parse2(learner).expect("a type parses as a type");
                        }
                    }
                }
                if self.values.contains(&name) || self.objects.contains_key(&name) {
                    let last = path.path.segments.last().expect("a name");
                    quote!(#krate::#last)
                } else {
                    quote!(#path)
                }
            }
            other => quote!(#other),
        }
    }

    /// Whether converting `ty` between wire and learner forms does anything.
    pub fn converts(&self, ty: &Type, this: SelfIs) -> bool {
        match ty {
            Type::Reference(r) => self.converts(&r.elem, this),
            Type::Slice(s) => self.converts(&s.elem, this),
            Type::Tuple(t) => t.elems.iter().any(|e| self.converts(e, this)),
            Type::Paren(p) => self.converts(&p.elem, this),
            Type::Path(_) => {
                self.is_value(ty, this)
                    || self.is_object(ty, this)
                    || is_io_error(ty)
                    || io_result(ty).is_some()
                    || type_args(ty).iter().any(|t| self.converts(t, this))
            }
            _ => false,
        }
    }

    /// Subject side: a wire value `e` of `ty` (owned) into the learner's `ty`.
    pub fn to_learner(&self, ty: &Type, e: TokenStream, this: SelfIs) -> TokenStream {
        if !self.converts(ty, this) {
            return e;
        }
        let x = format_ident!("__x");
        match ty {
            Type::Reference(r) => self.to_learner(&r.elem, e, this),
            Type::Slice(s) => {
                let inner = self.to_learner(&s.elem, quote!(#x), this);
                quote!(#e.into_iter().map(|#x| #inner).collect::<::std::vec::Vec<_>>())
            }
            Type::Paren(p) => self.to_learner(&p.elem, e, this),
            Type::Tuple(t) => {
                let names: Vec<Ident> = (0..t.elems.len())
                    .map(|i| format_ident!("__t{i}"))
                    .collect();
                let parts = t
                    .elems
                    .iter()
                    .zip(&names)
                    .map(|(ty, n)| self.to_learner(ty, quote!(#n), this));
                quote!({ let (#(#names,)*) = #e; (#(#parts,)*) })
            }
            Type::Path(_) if self.is_value(ty, this) => {
                let learner = self.learner(ty, this);
                quote!(::subject::Mirror::<#learner, __Implementation>::into_learner(#e))
            }
            Type::Path(_) => {
                let name = last_name(ty).unwrap_or_default();
                let args = type_args(ty);
                match (name.as_str(), args.as_slice()) {
                    ("Vec" | "VecDeque" | "BTreeSet" | "HashSet", [inner]) => {
                        let learner = self.learner(ty, this);
                        let inner = self.to_learner(inner, quote!(#x), this);
                        quote!(#e.into_iter().map(|#x| #inner).collect::<#learner>())
                    }
                    ("Option", [inner]) => {
                        let inner = self.to_learner(inner, quote!(#x), this);
                        quote!(#e.map(|#x| #inner))
                    }
                    ("Box", [inner]) => {
                        let inner = self.to_learner(inner, quote!(*#e), this);
                        quote!(::std::boxed::Box::new(#inner))
                    }
                    ("Result", [ok, err]) => {
                        let ok = self.to_learner(ok, quote!(#x), this);
                        let err = self.to_learner(err, quote!(#x), this);
                        quote!(#e.map(|#x| #ok).map_err(|#x| #err))
                    }
                    ("BTreeMap" | "HashMap", [k, v]) => {
                        let learner = self.learner(ty, this);
                        let k = self.to_learner(k, quote!(__k), this);
                        let v = self.to_learner(v, quote!(__v), this);
                        quote!(#e.into_iter().map(|(__k, __v)| (#k, #v)).collect::<#learner>())
                    }
                    _ => e,
                }
            }
            _ => e,
        }
    }

    /// Subject side: a reference `e` to a learner's value of `ty` into its wire form (owned).
    /// Objects are not handled here: the caller keeps them.
    pub fn to_wire(&self, ty: &Type, e: TokenStream, this: SelfIs) -> TokenStream {
        let x = format_ident!("__x");
        let wire = self.wire(ty, this);
        match ty {
            Type::Reference(r) => self.to_wire(&r.elem, e, this),
            Type::Paren(p) => self.to_wire(&p.elem, e, this),
            Type::Slice(s) if !self.converts(&s.elem, this) => {
                quote!(<[_]>::to_vec(#e))
            }
            Type::Slice(s) => {
                let inner = self.to_wire(&s.elem, quote!(#x), this);
                quote!((#e).iter().map(|#x| #inner).collect::<#wire>())
            }
            Type::Tuple(t) if t.elems.is_empty() => quote!(()),
            Type::Tuple(t) => {
                let names: Vec<Ident> = (0..t.elems.len())
                    .map(|i| format_ident!("__t{i}"))
                    .collect();
                let parts = t
                    .elems
                    .iter()
                    .zip(&names)
                    .map(|(ty, n)| self.to_wire(ty, quote!(#n), this));
                quote!({ let (#(#names,)*) = #e; (#(#parts,)*) })
            }
            Type::Path(_) if last_name(ty).as_deref() == Some("str") => {
                quote!(::std::string::ToString::to_string(#e))
            }
            Type::Path(_) if self.is_value(ty, this) => {
                let learner = self.learner(ty, this);
                quote!(<#wire as ::subject::Mirror<#learner, __Implementation>>::from_learner(#e))
            }
            Type::Path(_) if is_io_error(ty) => quote!(::subject::wire_error(#e)),
            Type::Path(_) if !self.converts(ty, this) && !has_refs(ty) => {
                quote!(::subject::own::<#wire>(#e))
            }
            Type::Path(_) => {
                let name = last_name(ty).unwrap_or_default();
                let args = type_args(ty);
                if let Some(ok) = io_result(ty) {
                    let ok = self.to_wire(ok, quote!(#x), this);
                    return quote!(match #e {
                        ::std::result::Result::Ok(#x) => ::std::result::Result::Ok(#ok),
                        ::std::result::Result::Err(#x) => {
                            ::std::result::Result::Err(::subject::wire_error(#x))
                        }
                    });
                }
                match (name.as_str(), args.as_slice()) {
                    ("Vec" | "VecDeque" | "BTreeSet" | "HashSet", [inner]) => {
                        let inner = self.to_wire(inner, quote!(#x), this);
                        quote!((#e).iter().map(|#x| #inner).collect::<#wire>())
                    }
                    ("Option", [inner]) => {
                        let inner = self.to_wire(inner, quote!(#x), this);
                        quote!((#e).as_ref().map(|#x| #inner))
                    }
                    ("Box", [inner]) => {
                        let inner = self.to_wire(inner, quote!(&**#e), this);
                        quote!(::std::boxed::Box::new(#inner))
                    }
                    ("Result", [ok, err]) => {
                        let ok = self.to_wire(ok, quote!(#x), this);
                        let err = self.to_wire(err, quote!(#x), this);
                        quote!(match #e {
                            ::std::result::Result::Ok(#x) => ::std::result::Result::Ok(#ok),
                            ::std::result::Result::Err(#x) => ::std::result::Result::Err(#err),
                        })
                    }
                    ("BTreeMap" | "HashMap", [k, v]) => {
                        let k = self.to_wire(k, quote!(__k), this);
                        let v = self.to_wire(v, quote!(__v), this);
                        quote!((#e).iter().map(|(__k, __v)| (#k, #v)).collect::<#wire>())
                    }
                    _ => quote!(::subject::own::<#wire>(#e)),
                }
            }
            _ => quote!(::subject::own::<#wire>(#e)),
        }
    }

    /// Judge side: a reference `e` to a kept wire value, as the declared (borrowing) `ty`.
    pub fn borrow(&self, ty: &Type, e: TokenStream) -> TokenStream {
        let x = format_ident!("__x");
        match ty {
            Type::Reference(r) => match &*r.elem {
                Type::Slice(_) => quote!((#e).as_slice()),
                elem if last_name(elem).as_deref() == Some("str") => quote!((#e).as_str()),
                _ => e,
            },
            Type::Tuple(t) => {
                let parts = t.elems.iter().enumerate().map(|(i, ty)| {
                    let index = syn::Index::from(i);
                    self.borrow(ty, quote!(&(#e).#index))
                });
                quote!((#(#parts,)*))
            }
            Type::Path(_) if has_refs(ty) => {
                let name = last_name(ty).unwrap_or_default();
                match (name.as_str(), type_args(ty).as_slice()) {
                    ("Option", [inner]) => {
                        let inner = self.borrow(inner, quote!(#x));
                        quote!((#e).as_ref().map(|#x| #inner))
                    }
                    ("Vec", [inner]) => {
                        let inner = self.borrow(inner, quote!(#x));
                        quote!((#e).iter().map(|#x| #inner).collect())
                    }
                    ("Result", [ok, err]) => {
                        let ok = self.borrow(ok, quote!(#x));
                        let err = self.borrow(err, quote!(#x));
                        quote!(match #e {
                            ::std::result::Result::Ok(#x) => ::std::result::Result::Ok(#ok),
                            ::std::result::Result::Err(#x) => ::std::result::Result::Err(#err),
                        })
                    }
                    _ => quote!(::std::clone::Clone::clone(#e)),
                }
            }
            _ => quote!(::std::clone::Clone::clone(#e)),
        }
    }
}

/// Whether `ty` borrows anything.
pub fn has_refs(ty: &Type) -> bool {
    match ty {
        Type::Reference(_) => true,
        Type::Slice(s) => has_refs(&s.elem),
        Type::Tuple(t) => t.elems.iter().any(has_refs),
        Type::Paren(p) => has_refs(&p.elem),
        Type::Path(_) => type_args(ty).into_iter().any(has_refs),
        _ => false,
    }
}

/// `io::Result<T>` or `Result<T, E>`: its `T` and, if not an I/O error, its `E`.
pub fn result_parts(ty: &Type) -> Option<(&Type, Option<&Type>)> {
    if let Some(ok) = io_result(ty) {
        return Some((ok, None));
    }
    if last_name(ty).as_deref() != Some("Result") {
        return None;
    }
    match type_args(ty).as_slice() {
        [ok, err] if is_io_error(err) => Some((ok, None)),
        [ok, err] => Some((ok, Some(err))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known_value(name: &str) -> Known {
        Known {
            krate: format_ident!("learner"),
            values: [name.to_string()].into(),
            objects: HashMap::new(),
        }
    }

    #[test]
    fn a_boxed_value_crosses_boxed_both_ways() {
        // A tree of a declared value type (`Expr` holding `Box<Expr>`): its wire form keeps the
        // box, so the conversions must make one on each side.
        let known = known_value("Expr");
        let ty: Type = syn::parse_quote!(Box<Expr>);
        let wire = known.wire(&ty, SelfIs::Nothing).to_string();
        assert!(wire.starts_with("Box <"), "{wire}");
        for conversion in [
            known.to_wire(&ty, quote!(x), SelfIs::Nothing),
            known.to_learner(&ty, quote!(x), SelfIs::Nothing),
        ] {
            let conversion = conversion.to_string();
            assert!(
                conversion.starts_with(":: std :: boxed :: Box :: new"),
                "{conversion}"
            );
        }
    }
}
