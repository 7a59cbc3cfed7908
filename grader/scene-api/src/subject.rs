//! The subject's side: mirrors of the value types with conversions to and from the learner's
//! own, and a dispatcher that decodes each call, makes it on the learner's item, and encodes
//! what came back. Calls are spelled against the declaration's spans, so a learner's item that
//! no longer matches fails to compile there.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Fields, Ident, ItemEnum, ItemStruct, Type};

use crate::model::Decl;
use crate::plan::{self, Callable, Owner, Plan, Receiver, Trait};
use crate::types::{Known, Param, SelfIs, result_parts};

/// The mirrors of the value types (and the carriers of objects' views), which cross the wire:
/// generated once per subject, however many implementations of the declaration it holds, and
/// brought into each implementation's module by a glob import. (Their serialisation is most of
/// a dispatcher's code: a copy per implementation made the proof's subjects slow to build.)
pub fn mirrors(plan: &Plan) -> syn::Result<TokenStream> {
    let mut out = TokenStream::new();
    for item in &plan.items {
        out.extend(match item {
            Decl::Use(item) => quote!(#[allow(unused_imports)] #item),
            Decl::Alias(item) => quote!(#[allow(dead_code)] #item),
            Decl::Struct(item) => {
                let mut mirror = item.clone();
                mirror.attrs = serde_attrs();
                quote!(#mirror)
            }
            Decl::Enum(item) => {
                let mut mirror = item.clone();
                mirror.attrs = serde_attrs();
                for variant in &mut mirror.variants {
                    variant.attrs.clear();
                }
                quote!(#mirror)
            }
            Decl::Const(_) | Decl::Object(_) => quote!(),
            Decl::Function(_) | Decl::Impl(_) => unreachable!("numbered in the plan"),
        });
    }
    for views in &plan.views {
        out.extend(carrier(plan, views)?);
    }
    Ok(out)
}

/// One implementation's side: conversions between the mirrors (in scope) and the learner's
/// types, and a dispatcher that calls the learner's items.
pub fn expand(plan: &Plan) -> syn::Result<TokenStream> {
    let k = &plan.known;
    let krate = &k.krate;
    let mut out = TokenStream::new();
    for item in &plan.items {
        out.extend(match item {
            Decl::Use(item) => quote!(#[allow(unused_imports)] #item),
            Decl::Alias(item) => quote!(#[allow(dead_code)] #item),
            Decl::Const(item) => {
                let name = &item.ident;
                let ty = k.learner(&item.ty, SelfIs::Nothing);
                // The constant must still exist with its type; its value is the stub's.
                quote_spanned!(name.span()=> const _: #ty = #krate::#name;)
            }
            Decl::Struct(item) => struct_conversions(k, item),
            Decl::Enum(item) => enum_conversions(k, item),
            Decl::Object(_) => quote!(),
            Decl::Function(_) | Decl::Impl(_) => unreachable!("numbered in the plan"),
        });
    }
    let mut arms = Vec::new();
    for call in &plan.calls {
        arms.push(arm(plan, call)?);
    }
    for views in &plan.views {
        arms.push(views_arm(plan, views)?);
    }
    for process in &plan.processes {
        arms.extend(process_arms(plan, process));
    }
    for imp in &plan.traits {
        arms.push(trait_arm(plan, imp));
    }
    let fingerprint = plan.fingerprint;
    out.extend(quote! {
        /// Names this implementation in its conversions: two implementations may share a type
        /// (one an earlier scene's crate re-exports), and each converts it with its own `impl`.
        #[allow(dead_code)]
        struct __Implementation;

        #[doc(hidden)]
        pub static __UNIT: ::subject::Unit = ::subject::Unit {
            fingerprint: #fingerprint,
            dispatch: __dispatch,
        };

        #[allow(unused_mut, unused_variables, clippy::unit_arg, clippy::let_unit_value)]
        fn __dispatch(__call: &mut ::subject::Call) -> ::std::result::Result<(), ::subject::Refusal> {
            match __call.method() {
                #(#arms)*
                __other => ::std::result::Result::Err(
                    ::subject::Refusal::new(::std::format!("no method {__other}"))
                ),
            }
        }
    });
    Ok(out)
}

const SERDE: &str = "::subject::serde";

fn serde_attrs() -> Vec<syn::Attribute> {
    syn::parse_quote! {
        #[derive(::subject::serde::Serialize, ::subject::serde::Deserialize)]
        #[serde(crate = #SERDE)]
        #[allow(dead_code)]
    }
}

fn struct_conversions(k: &Known, item: &ItemStruct) -> TokenStream {
    let name = &item.ident;
    let krate = &k.krate;
    let this = SelfIs::Nothing;
    let (into, from) = match &item.fields {
        Fields::Named(fields) => {
            let names: Vec<&Ident> = fields
                .named
                .iter()
                .filter_map(|f| f.ident.as_ref())
                .collect();
            let into = fields.named.iter().zip(&names).map(|(f, n)| {
                let e = k.to_learner(&f.ty, quote!(self.#n), this);
                quote!(#n: #e)
            });
            let from = fields.named.iter().zip(&names).map(|(f, n)| {
                let e = k.to_wire(&f.ty, quote!(&__l.#n), this);
                quote!(#n: #e)
            });
            (
                quote!(#krate::#name { #(#into,)* }),
                quote!(Self { #(#from,)* }),
            )
        }
        Fields::Unnamed(fields) => {
            let into = fields.unnamed.iter().enumerate().map(|(i, f)| {
                let index = syn::Index::from(i);
                k.to_learner(&f.ty, quote!(self.#index), this)
            });
            let from = fields.unnamed.iter().enumerate().map(|(i, f)| {
                let index = syn::Index::from(i);
                k.to_wire(&f.ty, quote!(&__l.#index), this)
            });
            (quote!(#krate::#name(#(#into,)*)), quote!(Self(#(#from,)*)))
        }
        Fields::Unit => (quote!(#krate::#name), quote!(Self)),
    };
    respan(
        quote! {
            #[allow(clippy::all)]
            impl ::subject::Mirror<#krate::#name, __Implementation> for #name {
                fn into_learner(self) -> #krate::#name {
                    #into
                }

                fn from_learner(__l: &#krate::#name) -> Self {
                    #from
                }
            }
        },
        name.span(),
    )
}

fn enum_conversions(k: &Known, item: &ItemEnum) -> TokenStream {
    let name = &item.ident;
    let krate = &k.krate;
    let this = SelfIs::Nothing;
    let mut into = Vec::new();
    let mut from = Vec::new();
    for variant in &item.variants {
        let v = &variant.ident;
        match &variant.fields {
            Fields::Unit => {
                into.push(quote!(Self::#v => #krate::#name::#v));
                from.push(quote!(#krate::#name::#v => Self::#v));
            }
            Fields::Unnamed(fields) => {
                let names: Vec<Ident> = (0..fields.unnamed.len())
                    .map(|i| format_ident!("__f{i}"))
                    .collect();
                let to = fields
                    .unnamed
                    .iter()
                    .zip(&names)
                    .map(|(f, n)| k.to_learner(&f.ty, quote!(#n), this));
                let back = fields
                    .unnamed
                    .iter()
                    .zip(&names)
                    .map(|(f, n)| k.to_wire(&f.ty, quote!(#n), this));
                into.push(quote!(Self::#v(#(#names,)*) => #krate::#name::#v(#(#to,)*)));
                from.push(quote!(#krate::#name::#v(#(#names,)*) => Self::#v(#(#back,)*)));
            }
            Fields::Named(fields) => {
                let names: Vec<&Ident> = fields
                    .named
                    .iter()
                    .filter_map(|f| f.ident.as_ref())
                    .collect();
                let to = fields.named.iter().zip(&names).map(|(f, n)| {
                    let e = k.to_learner(&f.ty, quote!(#n), this);
                    quote!(#n: #e)
                });
                let back = fields.named.iter().zip(&names).map(|(f, n)| {
                    let e = k.to_wire(&f.ty, quote!(#n), this);
                    quote!(#n: #e)
                });
                into.push(quote!(Self::#v { #(#names,)* } => #krate::#name::#v { #(#to,)* }));
                from.push(quote!(#krate::#name::#v { #(#names,)* } => Self::#v { #(#back,)* }));
            }
        }
    }
    respan(
        quote! {
            #[allow(clippy::all)]
            impl ::subject::Mirror<#krate::#name, __Implementation> for #name {
                fn into_learner(self) -> #krate::#name {
                    match self { #(#into,)* }
                }

                fn from_learner(__l: &#krate::#name) -> Self {
                    match __l { #(#from,)* }
                }
            }
        },
        name.span(),
    )
}

/// The wire form of what an object-returning call hands back: the object kept, its id sent.
fn keep(k: &Known, ty: &Type, this: SelfIs, value: TokenStream) -> TokenStream {
    let shared = match crate::types::last_name(ty).as_deref() {
        Some("Self") => match this {
            SelfIs::Object(t) => crate::types::last_name(t)
                .and_then(|n| k.objects.get(&n).copied())
                .unwrap_or(false),
            _ => false,
        },
        Some(name) => k.objects.get(name).copied().unwrap_or(false),
        None => false,
    };
    if shared {
        quote!(__call.keep_shared(#value))
    } else {
        quote!(__call.keep(#value))
    }
}

/// `__r` (what the learner's call returned) in wire form.
fn reply_of(k: &Known, ret: &Type, this: SelfIs) -> TokenStream {
    if k.is_object(ret, this) {
        return keep(k, ret, this, quote!(__r));
    }
    if let Some((ok, err)) = result_parts(ret)
        && k.is_object(ok, this)
    {
        let kept = keep(k, ok, this, quote!(__v));
        let err = match err {
            None => quote!(::subject::wire_error(&__e)),
            Some(err) => k.to_wire(err, quote!(&__e), this),
        };
        return quote!(match __r {
            ::std::result::Result::Ok(__v) => ::std::result::Result::Ok(#kept),
            ::std::result::Result::Err(__e) => ::std::result::Result::Err(#err),
        });
    }
    k.to_wire(ret, quote!(&__r), this)
}

fn effects_of(plan: &Plan, node: &Type, ctx: &Ident) -> syn::Result<TokenStream> {
    let k = &plan.known;
    let name = crate::types::last_name(node);
    let process = plan
        .processes
        .iter()
        .find(|p| crate::types::last_name(&p.self_ty) == name)
        .ok_or_else(|| syn::Error::new(node.span(), "declare `impl Process for` this type"))?;
    Ok(effects(k, process, ctx))
}

fn effects(k: &Known, process: &plan::ProcessImpl, ctx: &Ident) -> TokenStream {
    let this = SelfIs::Nothing;
    let m = k.to_wire(&process.message, quote!(__m), this);
    let t = k.to_wire(&process.timer, quote!(__t), this);
    let s = k.to_wire(&process.saved, quote!(__s), this);
    quote! {{
        let (__sends, __timers, __saved, __rng) = #ctx.into_parts();
        ::wire::frame::NetEffects {
            sends: __sends.iter().map(|(__to, __m)| (*__to as u64, #m)).collect(),
            timers: __timers.iter().map(|(__d, __t)| (*__d, #t)).collect(),
            saved: __saved.as_ref().map(|__s| #s),
            rng: __rng,
        }
    }}
}

fn net_ctx(k: &Known, node: &Type, ctx: &Ident, from: &Ident) -> TokenStream {
    let node = k.learner(node, SelfIs::Nothing);
    quote! {
        let mut #ctx = ::subject::kit::net::Ctx::<#node>::new(#from.now, #from.me as usize, #from.rng);
    }
}

fn arm(plan: &Plan, call: &Callable) -> syn::Result<TokenStream> {
    let k = &plan.known;
    let krate = &k.krate;
    let this = call.owner.self_is();
    let method = &call.method;
    let id = call.id;
    let name = &method.sig.ident;
    let span = plan::span_of(method);
    let receiver = plan::receiver(method)?;
    let ret = plan::output(method);

    let mut names = Vec::new();
    let mut wires = Vec::new();
    let mut preps = Vec::new();
    let mut passes = Vec::new();
    let mut extras = Vec::new();
    if let Owner::Value(ty) = &call.owner
        && receiver != Receiver::None
    {
        names.push(format_ident!("__self"));
        wires.push(k.wire(ty, SelfIs::Nothing));
        let learner = k.learner(ty, SelfIs::Nothing);
        preps.push(quote!(let mut __this: #learner = ::subject::Mirror::<_, __Implementation>::into_learner(__self);));
        if receiver == Receiver::Exclusive {
            extras.push(k.to_wire(ty, quote!(&__this), SelfIs::Nothing));
        }
    }
    for (i, (param, ty)) in plan::params(method)?.into_iter().enumerate() {
        let local = format_ident!("__p{i}");
        names.push(local.clone());
        wires.push(match k.classify(ty) {
            Param::NetCtx(_) => quote!(::wire::frame::NetContext),
            _ => k.wire(ty, this),
        });
        match k.classify(ty) {
            Param::Plain(ty) => {
                let owned = match ty {
                    Type::Reference(r) => &*r.elem,
                    other => other,
                };
                let converted = k.to_learner(owned, quote!(#local), this);
                preps.push(quote!(let #local = #converted;));
                passes.push(match ty {
                    Type::Reference(_) => quote!(&#local),
                    _ => match optional_reference(ty) {
                        // `Option<&[T]>`, `Option<&str>`: lent out of the owned option.
                        Some(Type::Slice(_)) => quote!(#local.as_deref()),
                        Some(inner) if crate::types::last_name(inner).as_deref() == Some("str") => {
                            quote!(#local.as_deref())
                        }
                        Some(_) => quote!(#local.as_ref()),
                        None => quote!(#local),
                    },
                });
            }
            Param::InOut(inner) => {
                let converted = k.to_learner(inner, quote!(#local), this);
                preps.push(quote!(let mut #local = #converted;));
                passes.push(quote!(&mut #local));
                extras.push(k.to_wire(inner, quote!(&#local), this));
            }
            Param::Into(target) => {
                let converted = k.to_learner(target, quote!(#local), this);
                preps.push(quote!(let #local = #converted;));
                passes.push(quote!(#local));
            }
            Param::LentDir => {
                preps.push(quote!(let #local = ::subject::lend_dir(#local);));
                passes.push(quote!(&#local));
            }
            Param::KeptDir => {
                preps.push(quote!(let #local = ::subject::own_dir(#local);));
                passes.push(quote!(#local));
            }
            Param::Listener => {
                preps.push(quote!(let #local = ::subject::take_listener(#local);));
                passes.push(quote!(#local));
            }
            Param::NetCtx(node) => {
                let ctx = format_ident!("__ctx{i}");
                preps.push(net_ctx(k, node, &ctx, &local));
                passes.push(quote!(&mut #ctx));
                extras.push(effects_of(plan, node, &ctx)?);
            }
        }
        let _ = param;
    }
    let invocation = match (&call.owner, receiver) {
        (Owner::Free, _) => quote_spanned!(span=> #krate::#name(#(#passes),*)),
        (Owner::Value(ty) | Owner::Object(ty), Receiver::None) => {
            let learner = k.learner(ty, SelfIs::Nothing);
            quote_spanned!(span=> <#learner>::#name(#(#passes),*))
        }
        (_, _) => quote_spanned!(span=> __this.#name(#(#passes),*)),
    };
    let reply = reply_of(k, &ret, this);
    let body = if extras.is_empty() {
        quote!({ let __r = #invocation; #reply })
    } else {
        quote!({ let __r = #invocation; (#reply, #(#extras,)*) })
    };
    let run = match (&call.owner, receiver) {
        (Owner::Object(ty), Receiver::Shared | Receiver::Exclusive) => {
            let learner = k.learner(ty, SelfIs::Nothing);
            let shared = crate::types::last_name(ty)
                .and_then(|n| k.objects.get(&n).copied())
                .unwrap_or(false);
            match (shared, receiver) {
                (true, Receiver::Exclusive) => {
                    return Err(syn::Error::new(
                        method.sig.span(),
                        "a #[shared] object's methods take `&self`",
                    ));
                }
                (true, _) => quote!(__call.on_shared::<#learner, _>(|__this| #body)?),
                (false, _) => quote!(__call.on_mut::<#learner, _>(|__this| #body)?),
            }
        }
        _ => body,
    };
    // Every token of the arm points at the declared item, so an error in it (the learner's item
    // no longer matches) points there too.
    Ok(respan(
        quote! {
            #id => {
                let (#(#names,)*): (#(#wires,)*) = __call.args()?;
                #(#preps)*
                let __reply = #run;
                __call.reply(&__reply)
            }
        },
        span,
    ))
}

/// For `Option<&T>`, the `T`.
fn optional_reference(ty: &Type) -> Option<&Type> {
    if crate::types::last_name(ty).as_deref() != Some("Option") {
        return None;
    }
    match crate::types::type_args(ty).as_slice() {
        [Type::Reference(r)] => Some(&r.elem),
        _ => None,
    }
}

/// `tokens`, every one of them spanned at `span`.
fn respan(tokens: TokenStream, span: proc_macro2::Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let proc_macro2::TokenTree::Group(group) = &token {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                token = proc_macro2::TokenTree::Group(inner);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

fn carrier(plan: &Plan, views: &plan::Views) -> syn::Result<TokenStream> {
    let k = &plan.known;
    let this = SelfIs::Object(&views.self_ty);
    let name = &views.carrier;
    let fields = views.methods.iter().map(|m| {
        let field = &m.sig.ident;
        let wire = k.wire(&plan::output(m), this);
        quote!(#field: #wire)
    });
    let attrs = serde_attrs();
    Ok(quote! {
        #(#attrs)*
        pub struct #name { #(pub #fields,)* }
    })
}

fn views_arm(plan: &Plan, views: &plan::Views) -> syn::Result<TokenStream> {
    let k = &plan.known;
    let this = SelfIs::Object(&views.self_ty);
    let learner = k.learner(&views.self_ty, SelfIs::Nothing);
    let carrier = &views.carrier;
    let id = views.id;
    let fields = views.methods.iter().map(|m| {
        let field = &m.sig.ident;
        let span = plan::span_of(m);
        let call = quote_spanned!(span=> __this.#field());
        let value = k.to_wire(&plan::output(m), quote!(&#call), this);
        quote!(#field: #value)
    });
    Ok(quote! {
        #id => {
            let __reply = __call.on_mut::<#learner, _>(|__this| #carrier { #(#fields,)* })?;
            __call.reply(&__reply)
        }
    })
}

fn process_arms(plan: &Plan, process: &plan::ProcessImpl) -> Vec<TokenStream> {
    let k = &plan.known;
    let this = SelfIs::Nothing;
    let learner = k.learner(&process.self_ty, this);
    let process_trait = quote!(::subject::kit::net::Process);
    let (wm, wt, ws) = (
        k.wire(&process.message, this),
        k.wire(&process.timer, this),
        k.wire(&process.saved, this),
    );
    let ctx = format_ident!("__ctx");
    let from = format_ident!("__context");
    let make_ctx = net_ctx(k, &process.self_ty, &ctx, &from);
    let effects = effects(k, process, &ctx);
    let saved_in = k.to_learner(&process.saved, quote!(__s), this);
    let message_in = k.to_learner(&process.message, quote!(__message), this);
    let timer_in = k.to_learner(&process.timer, quote!(__timer), this);
    let (start, on_message, on_timer) = (process.start, process.on_message, process.on_timer);
    let keep = keep(k, &process.self_ty, this, quote!(__node));
    vec![
        quote! {
            #start => {
                let (__id, __peers, __saved, #from): (u64, ::std::vec::Vec<u64>, ::std::option::Option<#ws>, ::wire::frame::NetContext) = __call.args()?;
                let __peers: ::std::vec::Vec<usize> = __peers.into_iter().map(|p| p as usize).collect();
                #make_ctx
                let __node = <#learner as #process_trait>::start(__id as usize, &__peers, __saved.map(|__s| #saved_in), &mut #ctx);
                let __effects = #effects;
                let __handle = #keep;
                __call.reply(&(__handle, __effects))
            }
        },
        quote! {
            #on_message => {
                let (__from, __message, #from): (u64, #wm, ::wire::frame::NetContext) = __call.args()?;
                let __reply = __call.on_mut::<#learner, _>(|__this| {
                    #make_ctx
                    <#learner as #process_trait>::on_message(__this, __from as usize, #message_in, &mut #ctx);
                    #effects
                })?;
                __call.reply(&__reply)
            }
        },
        quote! {
            #on_timer => {
                let (__timer, #from): (#wt, ::wire::frame::NetContext) = __call.args()?;
                let __reply = __call.on_mut::<#learner, _>(|__this| {
                    #make_ctx
                    <#learner as #process_trait>::on_timer(__this, #timer_in, &mut #ctx);
                    #effects
                })?;
                __call.reply(&__reply)
            }
        },
    ]
}

fn trait_arm(plan: &Plan, imp: &plan::TraitImpl) -> TokenStream {
    let k = &plan.known;
    let this = SelfIs::Nothing;
    let ty = &imp.self_ty;
    let learner = k.learner(ty, this);
    let id = imp.id;
    let object = k.is_object(ty, this);
    match imp.which {
        Trait::Default => {
            let reply = if object {
                keep(k, ty, this, quote!(__r))
            } else {
                k.to_wire(ty, quote!(&__r), this)
            };
            quote! {
                #id => {
                    let __r = <#learner as ::std::default::Default>::default();
                    let __reply = #reply;
                    __call.reply(&__reply)
                }
            }
        }
        Trait::Debug => quote! {
            #id => {
                let (__alternate,): (bool,) = __call.args()?;
                let __reply = __call.on_mut::<#learner, _>(|__this| {
                    if __alternate {
                        ::std::format!("{:#?}", __this)
                    } else {
                        ::std::format!("{:?}", __this)
                    }
                })?;
                __call.reply(&__reply)
            }
        },
        Trait::Display => {
            if object {
                quote! {
                    #id => {
                        let __reply = __call.on_mut::<#learner, _>(|__this| ::std::format!("{}", __this))?;
                        __call.reply(&__reply)
                    }
                }
            } else {
                let wire = k.wire(ty, this);
                quote! {
                    #id => {
                        let (__self,): (#wire,) = __call.args()?;
                        let __reply = ::std::format!("{}", ::subject::Mirror::<#learner, __Implementation>::into_learner(__self));
                        __call.reply(&__reply)
                    }
                }
            }
        }
    }
}
