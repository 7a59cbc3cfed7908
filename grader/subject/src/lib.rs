//! The runtime of a subject process: the learner's crate, a dispatcher generated from the
//! scene's API declaration, and this. Nothing here decides anything: the judge asks for calls,
//! this makes them and says what came back (or that the learner's code panicked), and lends the
//! learner's code a disk that lives in the judge.
//!
//! A subject binary's `main` is `subject::main(&UNITS)`. The process it starts is a fork server
//! (the zygote): the judge asks it for instances, each a fresh fork that serves the lanes of one
//! shared-memory region. A simulated power cut, or a node of a cluster crashing, is a new
//! instance, so nothing the learner's code keeps in memory (a `static` included) survives it.

mod disk;
pub mod dispatch;
mod instance;
mod panics;
mod zygote;

pub use disk::{RemoteDir, lend_dir, own_dir};
pub use dispatch::{Call, Refusal, Unit};
pub use {kit, serde, wire};

/// Runs the subject: `variants[v][u]` dispatches unit `u` (one API declaration) of variant `v`
/// (one implementation of it; only `verify` builds more than one into a binary).
pub fn main(variants: &'static [&'static [&'static Unit]]) -> ! {
    zygote::run(variants)
}

/// The subject's copy of a value type the declaration names, which crosses the wire, converted
/// to and from the learner's own `Learner`. One mirror serves every implementation a subject
/// holds, each with an `impl` of its own, told apart by `Implementation` (a type of its module).
pub trait Mirror<Learner, Implementation> {
    fn into_learner(self) -> Learner;
    fn from_learner(learner: &Learner) -> Self;
}

/// The listening socket the judge handed over as `id` (a `TcpListener` argument): made and
/// bound by the judge, so that the judge can connect to it, whatever network the subject sees.
pub fn take_listener(id: u64) -> std::net::TcpListener {
    std::net::TcpListener::from(instance::handed_over(id))
}

/// A learner's value of a plain type, copied for the wire.
pub fn own<T: Clone>(value: &T) -> T {
    value.clone()
}

/// An `io::Error` in wire form.
pub fn wire_error(error: &std::io::Error) -> wire::frame::WireError {
    error.into()
}
