//! A declaration, numbered: every callable gets the id both sides use for it.

use std::collections::{HashMap, HashSet};

use proc_macro2::Span;
use quote::{ToTokens, format_ident};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, Type};

use crate::model::{Decl, Declaration, Method};
use crate::types::{Known, Param, SelfIs, last_name};

pub struct Plan {
    pub fingerprint: u64,
    pub known: Known,
    pub items: Vec<Decl>,
    pub calls: Vec<Callable>,
    pub views: Vec<Views>,
    pub processes: Vec<ProcessImpl>,
    pub traits: Vec<TraitImpl>,
    /// Some object is used from several threads at once.
    pub shared: bool,
    /// Some call lends the learner's code a directory.
    pub disk: bool,
}

/// Whose method a callable is.
#[derive(Clone)]
pub enum Owner {
    Free,
    Value(Type),
    Object(Type),
}

impl Owner {
    pub fn self_is(&self) -> SelfIs<'_> {
        match self {
            Owner::Free => SelfIs::Nothing,
            Owner::Value(ty) => SelfIs::Value(ty),
            Owner::Object(ty) => SelfIs::Object(ty),
        }
    }
}

pub struct Callable {
    pub id: u16,
    pub method: Method,
    pub owner: Owner,
}

/// The `#[view]` methods of one object type, fetched together.
pub struct Views {
    pub id: u16,
    pub self_ty: Type,
    /// The name of the struct that carries them.
    pub carrier: Ident,
    pub methods: Vec<Method>,
}

/// `impl Process for Node`.
pub struct ProcessImpl {
    pub self_ty: Type,
    pub message: Type,
    pub timer: Type,
    pub saved: Type,
    pub start: u16,
    pub on_message: u16,
    pub on_timer: u16,
}

/// `impl Default for T;`, `impl Display for T;` or (for an object) `impl Debug for T;`.
pub struct TraitImpl {
    pub id: u16,
    pub which: Trait,
    pub self_ty: Type,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Trait {
    Default,
    Display,
    /// An object's own `Debug`, for checks that read what it prints.
    Debug,
}

impl Plan {
    pub fn new(declaration: Declaration, fingerprint: u64) -> syn::Result<Plan> {
        let mut values = HashSet::new();
        let mut objects = HashMap::new();
        for item in &declaration.items {
            match item {
                Decl::Struct(s) => {
                    values.insert(s.ident.to_string());
                }
                Decl::Enum(e) => {
                    values.insert(e.ident.to_string());
                }
                Decl::Object(o) => {
                    objects.insert(o.ident.to_string(), o.shared);
                }
                _ => {}
            }
        }
        let known = Known {
            krate: declaration.krate,
            values,
            objects,
        };
        let mut next = 0u16;
        let mut id = || {
            next += 1;
            next - 1
        };
        let mut calls = Vec::new();
        let mut views: Vec<Views> = Vec::new();
        let mut processes = Vec::new();
        let mut traits = Vec::new();
        let mut items = Vec::new();
        for item in declaration.items {
            match item {
                Decl::Function(method) => calls.push(Callable {
                    id: id(),
                    method,
                    owner: Owner::Free,
                }),
                Decl::Impl(block) => {
                    let name = last_name(&block.self_ty).unwrap_or_default();
                    let is_object = known.objects.contains_key(&name);
                    if !is_object && !known.values.contains(&name) {
                        return Err(syn::Error::new(
                            block.self_ty.span(),
                            "declare the type before its impl",
                        ));
                    }
                    match block.of_trait.as_ref().and_then(|p| p.segments.last()) {
                        Some(t) if t.ident == "Process" => {
                            let assoc = |want: &str| {
                                block
                                    .assoc
                                    .iter()
                                    .find(|(name, _)| name == want)
                                    .map(|(_, ty)| ty.clone())
                                    .ok_or_else(|| {
                                        syn::Error::new(block.span, format!("type {want} = ...;"))
                                    })
                            };
                            processes.push(ProcessImpl {
                                self_ty: block.self_ty.clone(),
                                message: assoc("Message")?,
                                timer: assoc("Timer")?,
                                saved: assoc("Saved")?,
                                start: id(),
                                on_message: id(),
                                on_timer: id(),
                            });
                        }
                        Some(t)
                            if ["Default", "Display", "Debug"].contains(&&*t.ident.to_string()) =>
                        {
                            let which = match t.ident.to_string().as_str() {
                                "Default" => Trait::Default,
                                "Display" => Trait::Display,
                                _ if is_object => Trait::Debug,
                                _ => {
                                    return Err(syn::Error::new(
                                        t.ident.span(),
                                        "a value's Debug is derived: declare it with #[derive]",
                                    ));
                                }
                            };
                            traits.push(TraitImpl {
                                id: id(),
                                which,
                                self_ty: block.self_ty.clone(),
                            });
                        }
                        Some(t) => {
                            return Err(syn::Error::new(
                                t.ident.span(),
                                "only Process, Default, Display and Debug can be declared",
                            ));
                        }
                        None => {
                            let owner = if is_object {
                                Owner::Object(block.self_ty.clone())
                            } else {
                                Owner::Value(block.self_ty.clone())
                            };
                            for method in block.methods {
                                // A view with arguments is remembered per argument instead.
                                let with_arguments =
                                    method.sig.inputs.len() > 1 || method.sig.receiver().is_none();
                                if method.view && !with_arguments {
                                    if !is_object {
                                        return Err(syn::Error::new(
                                            method.sig.span(),
                                            "#[view] is for methods of objects",
                                        ));
                                    }
                                    let key = block.self_ty.to_token_stream().to_string();
                                    match views
                                        .iter_mut()
                                        .find(|v| v.self_ty.to_token_stream().to_string() == key)
                                    {
                                        Some(set) => set.methods.push(method),
                                        None => views.push(Views {
                                            id: id(),
                                            self_ty: block.self_ty.clone(),
                                            carrier: format_ident!("__View{}", views.len()),
                                            methods: vec![method],
                                        }),
                                    }
                                } else {
                                    if method.view && !is_object {
                                        return Err(syn::Error::new(
                                            method.sig.span(),
                                            "#[view] is for methods of objects",
                                        ));
                                    }
                                    calls.push(Callable {
                                        id: id(),
                                        method,
                                        owner: owner.clone(),
                                    });
                                }
                            }
                        }
                    }
                }
                other => items.push(other),
            }
        }
        let disk = calls.iter().any(|call| {
            call.method.sig.inputs.iter().any(|arg| match arg {
                FnArg::Typed(typed) => {
                    matches!(known.classify(&typed.ty), Param::LentDir | Param::KeptDir)
                }
                FnArg::Receiver(_) => false,
            })
        });
        let shared = known.objects.values().any(|shared| *shared);
        Ok(Plan {
            fingerprint,
            known,
            items,
            calls,
            views,
            processes,
            traits,
            shared,
            disk,
        })
    }

    pub fn crate_name(&self) -> String {
        self.known.krate.to_string()
    }
}

/// The parameters of a signature after the receiver: name and type.
pub fn params(method: &Method) -> syn::Result<Vec<(Ident, &Type)>> {
    method
        .sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(typed) => Some(typed),
            FnArg::Receiver(_) => None,
        })
        .map(|typed| match &*typed.pat {
            syn::Pat::Ident(ident) => Ok((ident.ident.clone(), &*typed.ty)),
            other => Err(syn::Error::new(other.span(), "name each parameter")),
        })
        .collect()
}

/// The receiver: none, `&self` or `&mut self` (by-value `self` is not supported).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Receiver {
    None,
    Shared,
    Exclusive,
}

pub fn receiver(method: &Method) -> syn::Result<Receiver> {
    match method.sig.receiver() {
        None => Ok(Receiver::None),
        Some(r) => match &r.kind {
            syn::ReceiverKind::Reference(_, _, None) => Ok(Receiver::Shared),
            syn::ReceiverKind::Reference(_, _, Some(_)) => Ok(Receiver::Exclusive),
            _ => Err(syn::Error::new(
                r.self_token.span,
                "take `&self` or `&mut self`: a value cannot be moved into the other process",
            )),
        },
    }
}

/// The return type, or `()`.
pub fn output(method: &Method) -> Type {
    match &method.sig.output {
        syn::ReturnType::Default => syn::parse_quote!(()),
        syn::ReturnType::Type(_, ty) => (**ty).clone(),
    }
}

pub fn span_of(method: &Method) -> Span {
    method.sig.ident.span()
}
