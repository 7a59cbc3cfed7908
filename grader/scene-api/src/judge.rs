//! The judge's side: for each declared item, something with the learner's name that the
//! checks call as they would call the learner's code.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Type};

use crate::model::{Decl, Method, Object};
use crate::plan::{self, Callable, Owner, Plan, Receiver, Trait};
use crate::types::{Param, SelfIs, has_refs, last_name, result_parts};

pub fn expand(plan: &Plan) -> syn::Result<TokenStream> {
    let name = plan.crate_name();
    let fingerprint = plan.fingerprint;
    let (shared, disk) = (plan.shared, plan.disk);
    let mut out = quote! {
        /// The dispatch unit this API's calls go to.
        #[doc(hidden)]
        pub static __UNIT: ::judge::UnitSlot =
            ::judge::UnitSlot::new(#name, #fingerprint, #shared, #disk);
    };
    for item in &plan.items {
        out.extend(match item {
            Decl::Use(item) => quote!(#[allow(unused_imports)] #item),
            Decl::Alias(item) => quote!(#item),
            Decl::Const(item) => quote!(#item),
            Decl::Struct(item) => quote!(#SERDE #item),
            Decl::Enum(item) => quote!(#SERDE #item),
            Decl::Object(object) => {
                let own_debug = plan.traits.iter().any(|t| {
                    t.which == Trait::Debug
                        && crate::types::last_name(&t.self_ty) == Some(object.ident.to_string())
                });
                proxy(object, !own_debug)
            }
            Decl::Function(_) | Decl::Impl(_) => unreachable!("numbered in the plan"),
        });
    }
    for call in &plan.calls {
        let method = callable(plan, call)?;
        out.extend(match &call.owner {
            Owner::Free => method,
            Owner::Value(ty) | Owner::Object(ty) => quote!(impl #ty { #method }),
        });
    }
    for views in &plan.views {
        out.extend(views_of(plan, views)?);
    }
    for process in &plan.processes {
        out.extend(process_impl(plan, process));
    }
    for imp in &plan.traits {
        out.extend(trait_impl(plan, imp));
    }
    Ok(out)
}

/// Serde for the mirrors, through the judge's own copy of it.
struct Serde;

const SERDE: Serde = Serde;

impl quote::ToTokens for Serde {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(quote! {
            #[derive(::judge::serde::Serialize, ::judge::serde::Deserialize)]
            #[serde(crate = "::judge::serde")]
        });
    }
}

fn proxy(object: &Object, debug: bool) -> TokenStream {
    let Object {
        attrs,
        vis,
        ident,
        generics,
        ..
    } = object;
    let params: Vec<&Ident> = generics.type_params().map(|p| &p.ident).collect();
    let (impl_generics, type_generics, _) = generics.split_for_impl();
    let debug = debug.then(|| {
        quote! {
            impl #impl_generics ::std::fmt::Debug for #ident #type_generics {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    write!(f, "{} ({:?})", stringify!(#ident), self.__handle)
                }
            }
        }
    });
    quote! {
        #(#attrs)*
        #vis struct #ident #generics {
            __handle: ::judge::remote::Handle,
            __kept: ::judge::remote::Kept,
            __view: ::std::sync::OnceLock<::std::boxed::Box<dyn ::std::any::Any + Send + Sync>>,
            __types: ::std::marker::PhantomData<fn() -> (#(#params,)*)>,
        }

        impl #impl_generics #ident #type_generics {
            #[doc(hidden)]
            pub fn __from_handle(handle: ::judge::remote::Handle) -> Self {
                Self {
                    __handle: handle,
                    __kept: ::std::default::Default::default(),
                    __view: ::std::sync::OnceLock::new(),
                    __types: ::std::marker::PhantomData,
                }
            }

            /// The object changed: what was handed out about it is stale.
            #[allow(dead_code)]
            fn __changed(&mut self) {
                self.__kept.clear();
                self.__view = ::std::sync::OnceLock::new();
            }
        }

        // A proxy holds no invariant a panic could break: a panic in the learner's code unwinds
        // out of a call before the proxy changes.
        impl #impl_generics ::std::panic::UnwindSafe for #ident #type_generics {}
        impl #impl_generics ::std::panic::RefUnwindSafe for #ident #type_generics {}

        #debug
    }
}

/// The effects type of a handler of node type `node`.
fn effects_type(plan: &Plan, node: &Type) -> syn::Result<TokenStream> {
    let name = last_name(node);
    let process = plan
        .processes
        .iter()
        .find(|p| last_name(&p.self_ty) == name)
        .ok_or_else(|| syn::Error::new(node.span(), "declare `impl Process for` this type"))?;
    let k = &plan.known;
    let (m, t, s) = (
        k.wire(&process.message, SelfIs::Nothing),
        k.wire(&process.timer, SelfIs::Nothing),
        k.wire(&process.saved, SelfIs::Nothing),
    );
    Ok(quote!(::wire::frame::NetEffects<#m, #t, #s>))
}

fn callable(plan: &Plan, call: &Callable) -> syn::Result<TokenStream> {
    let k = &plan.known;
    let this = call.owner.self_is();
    let method = &call.method;
    let Method {
        attrs, vis, sig, ..
    } = method;
    let id = call.id;
    let receiver = plan::receiver(method)?;
    let ret = plan::output(method);
    let span = plan::span_of(method);

    let mut preps = Vec::new();
    let mut args = Vec::new();
    let mut extras = Vec::new();
    let mut posts = Vec::new();
    let mut changed = quote!();
    // The learner's name for what is called, to say where a panic happened.
    let shown = match &call.owner {
        Owner::Free => sig.ident.to_string(),
        Owner::Value(ty) | Owner::Object(ty) => {
            format!("{}::{}", last_name(ty).unwrap_or_default(), sig.ident)
        }
    };
    let ctor = match (&call.owner, receiver) {
        (Owner::Object(_), Receiver::None) | (Owner::Free, _) | (Owner::Value(_), _) => {
            quote!(::judge::remote::Call::function(&__UNIT, #id).named(#shown))
        }
        (Owner::Object(_), receiver) => {
            if receiver == Receiver::Exclusive {
                changed = quote!(self.__changed(););
            }
            quote!(::judge::remote::Call::method(&__UNIT, #id, &self.__handle).named(#shown))
        }
    };
    if let (Owner::Value(ty), r) = (&call.owner, receiver) {
        match r {
            Receiver::None => {}
            Receiver::Shared => args.push(quote!(self)),
            Receiver::Exclusive => {
                args.push(quote!(&*self));
                extras.push(k.wire(ty, SelfIs::Nothing));
                let n = format_ident!("__extra{}", extras.len());
                posts.push((n.clone(), quote!(*self = #n;)));
            }
        }
    }
    for (i, (name, ty)) in plan::params(method)?.into_iter().enumerate() {
        let local = format_ident!("__arg{i}");
        match k.classify(ty) {
            Param::Plain(_) => args.push(quote!(#name)),
            Param::InOut(inner) => {
                args.push(quote!(&*#name));
                extras.push(k.wire(inner, this));
                let n = format_ident!("__extra{}", extras.len());
                posts.push((n.clone(), quote!(*#name = #n;)));
            }
            Param::Into(target) => {
                preps.push(quote!(let #local: #target = ::std::convert::Into::into(#name);));
                args.push(quote!(#local));
            }
            Param::LentDir => {
                preps.push(quote!(let #local = __call.lend_dir(#name);));
                args.push(quote!(#local));
            }
            Param::KeptDir => {
                preps.push(quote!(let #local = __call.keep_dir(#name);));
                args.push(quote!(#local));
            }
            Param::Listener => {
                preps.push(quote!(let #local = __call.hand_over(#name);));
                args.push(quote!(#local));
            }
            Param::NetCtx(node) => {
                args.push(quote!(::judge::remote::net_context(&*#name)));
                extras.push(effects_type(plan, node)?);
                let n = format_ident!("__extra{}", extras.len());
                posts.push((n.clone(), quote!(::judge::remote::net_effects(#name, #n);)));
            }
        }
    }
    let ret_wire = k.wire(&ret, this);
    let (reply_wire, unpack) = if extras.is_empty() {
        (ret_wire.clone(), quote!())
    } else {
        let names = posts.iter().map(|(n, _)| n);
        (
            quote!((#ret_wire, #(#extras,)*)),
            quote!(let (__value, #(#names,)*) = __value;),
        )
    };
    let post = posts.iter().map(|(_, p)| p);
    let finish = judge_return(plan, &ret, this, receiver)?;
    if method.view {
        // Remembered per argument until the object changes: checks that read a node after every
        // step of a simulation ask the same things of the nodes that did not move.
        if receiver != Receiver::Shared || !extras.is_empty() || !preps.is_empty() {
            return Err(syn::Error::new(
                sig.span(),
                "a #[view] with arguments takes `&self` and plain arguments",
            ));
        }
        let borrowed = k.borrow(&ret, quote!(__kept));
        return Ok(quote_spanned! {span=>
            #(#attrs)*
            #vis #sig {
                let __arguments = &(#(#args,)*);
                let __kept = self.__kept.remember(#id, __arguments, || {
                    let __call = ::judge::remote::Call::method(&__UNIT, #id, &self.__handle);
                    __call.invoke::<#ret_wire>(__arguments).split().0
                });
                #borrowed
            }
        });
    }
    Ok(quote_spanned! {span=>
        #(#attrs)*
        #[allow(clippy::unused_unit, unused_mut)]
        #vis #sig {
            #changed
            let mut __call = #ctor;
            #(#preps)*
            let (__value, __placement) =
                __call.invoke::<#reply_wire>(&(#(#args,)*)).split();
            #unpack
            #(#post)*
            let _ = &__placement;
            #finish
        }
    })
}

/// Turns `__value` (the wire form of `ret`) into what the proxy returns.
fn judge_return(
    plan: &Plan,
    ret: &Type,
    this: SelfIs,
    receiver: Receiver,
) -> syn::Result<TokenStream> {
    let k = &plan.known;
    if has_refs(ret) {
        if receiver == Receiver::None || !matches!(this, SelfIs::Object(_)) {
            return Err(syn::Error::new(
                ret.span(),
                "only a method of an object can return a reference",
            ));
        }
        let borrowed = k.borrow(ret, quote!(__kept));
        return Ok(quote!({ let __kept = self.__kept.keep(__value); #borrowed }));
    }
    if k.is_object(ret, this) {
        return Ok(quote!(<#ret>::__from_handle(__placement.handle(__value))));
    }
    if let Some((ok, err)) = result_parts(ret) {
        let ok = if k.is_object(ok, this) {
            quote!(.map(|__id| <#ok>::__from_handle(__placement.handle(__id))))
        } else {
            quote!()
        };
        let err = match err {
            None => quote!(.map_err(::std::io::Error::from)),
            Some(_) => quote!(),
        };
        return Ok(quote!(__value #ok #err));
    }
    Ok(quote!(__value))
}

fn views_of(plan: &Plan, views: &plan::Views) -> syn::Result<TokenStream> {
    let k = &plan.known;
    let this = SelfIs::Object(&views.self_ty);
    let carrier = &views.carrier;
    let self_ty = &views.self_ty;
    let id = views.id;
    let mut fields = Vec::new();
    let mut methods = Vec::new();
    for method in &views.methods {
        if plan::receiver(method)? != Receiver::Shared || !plan::params(method)?.is_empty() {
            return Err(syn::Error::new(
                method.sig.span(),
                "a #[view] takes `&self` and nothing else",
            ));
        }
        let name = &method.sig.ident;
        let ret = plan::output(method);
        let wire = k.wire(&ret, this);
        fields.push(quote!(pub #name: #wire));
        let borrowed = k.borrow(&ret, quote!(&__view.#name));
        let Method {
            attrs, vis, sig, ..
        } = method;
        methods.push(quote! {
            #(#attrs)*
            #vis #sig {
                let __view = self.__views();
                #borrowed
            }
        });
    }
    Ok(quote! {
        #[doc(hidden)]
        #SERDE
        pub struct #carrier { #(#fields,)* }

        impl #self_ty {
            fn __views(&self) -> &#carrier {
                self.__view
                    .get_or_init(|| {
                        let call = ::judge::remote::Call::method(&__UNIT, #id, &self.__handle);
                        ::std::boxed::Box::new(call.invoke::<#carrier>(&()).split().0)
                    })
                    .downcast_ref::<#carrier>()
                    .expect("the views of this type")
            }

            #(#methods)*
        }
    })
}

fn process_impl(plan: &Plan, process: &plan::ProcessImpl) -> TokenStream {
    let k = &plan.known;
    let plan::ProcessImpl {
        self_ty,
        message,
        timer,
        saved,
        start,
        on_message,
        on_timer,
    } = process;
    let (wm, wt, ws) = (
        k.wire(message, SelfIs::Nothing),
        k.wire(timer, SelfIs::Nothing),
        k.wire(saved, SelfIs::Nothing),
    );
    let effects = quote!(::wire::frame::NetEffects<#wm, #wt, #ws>);
    let net = quote!(::judge::kit::net);
    quote! {
        impl #net::Process for #self_ty {
            type Message = #message;
            type Timer = #timer;
            type Saved = #saved;

            fn start(
                id: #net::NodeId,
                peers: &[#net::NodeId],
                saved: ::std::option::Option<Self::Saved>,
                ctx: &mut #net::Ctx<Self>,
            ) -> Self {
                // Nodes share the check's process; a node starting again after a crash gets a
                // process of its own, so nothing it kept in memory (a static included) survives.
                let call = if ctx.is_restart() {
                    ::judge::remote::Call::in_own_process(&__UNIT, #start)
                } else {
                    ::judge::remote::Call::function(&__UNIT, #start)
                };
                let context = ::judge::remote::net_context(&*ctx);
                let ((id, effects), placement) = call
                    .invoke::<(u64, #effects)>(&(id as u64, peers, saved, context))
                    .split();
                ::judge::remote::net_effects(ctx, effects);
                Self::__from_handle(placement.handle(id))
            }

            fn on_message(&mut self, from: #net::NodeId, message: Self::Message, ctx: &mut #net::Ctx<Self>) {
                self.__changed();
                let call = ::judge::remote::Call::method(&__UNIT, #on_message, &self.__handle);
                let context = ::judge::remote::net_context(&*ctx);
                let (effects, _) = call.invoke::<#effects>(&(from as u64, message, context)).split();
                ::judge::remote::net_effects(ctx, effects);
            }

            fn on_timer(&mut self, timer: Self::Timer, ctx: &mut #net::Ctx<Self>) {
                self.__changed();
                let call = ::judge::remote::Call::method(&__UNIT, #on_timer, &self.__handle);
                let context = ::judge::remote::net_context(&*ctx);
                let (effects, _) = call.invoke::<#effects>(&(timer, context)).split();
                ::judge::remote::net_effects(ctx, effects);
            }
        }
    }
}

fn trait_impl(plan: &Plan, imp: &plan::TraitImpl) -> TokenStream {
    let k = &plan.known;
    let ty = &imp.self_ty;
    let id = imp.id;
    let object = k.is_object(ty, SelfIs::Nothing);
    match imp.which {
        Trait::Default => {
            let wire = k.wire(ty, SelfIs::Nothing);
            let make = if object {
                quote!(Self::__from_handle(placement.handle(value)))
            } else {
                quote!(value)
            };
            quote! {
                impl ::std::default::Default for #ty {
                    fn default() -> Self {
                        let call = ::judge::remote::Call::function(&__UNIT, #id);
                        let (value, placement) = call.invoke::<#wire>(&()).split();
                        let _ = &placement;
                        #make
                    }
                }
            }
        }
        Trait::Debug => quote! {
            impl ::std::fmt::Debug for #ty {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    let text = ::judge::remote::Call::method(&__UNIT, #id, &self.__handle)
                        .invoke::<::std::string::String>(&(f.alternate(),));
                    f.write_str(&text.split().0)
                }
            }
        },
        Trait::Display => {
            let text = if object {
                quote! {
                    ::judge::remote::Call::method(&__UNIT, #id, &self.__handle)
                        .invoke::<::std::string::String>(&())
                }
            } else {
                quote! {
                    ::judge::remote::Call::function(&__UNIT, #id)
                        .invoke::<::std::string::String>(&(self,))
                }
            };
            quote! {
                impl ::std::fmt::Display for #ty {
                    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(&#text.split().0)
                    }
                }
            }
        }
    }
}
