//! What the proxies generated from a scene's API declaration use: a call into the subject, the
//! handles of the learner's objects that live there, and places to keep what a proxy hands
//! out by reference.
//!
//! A call panics the way the learner's code panicked (so checks, proptest and the kit's crash
//! driver see the panic they always saw), and ends the check as a death when the learner's
//! process dies, hangs or breaks the protocol.

use std::any::Any;
use std::sync::{Arc, Mutex, OnceLock};

use kit::disk::Dir;
use kit::net::{Ctx, NodeId, Process};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wire::frame::{self, NetContext, NetEffects, Request, Response};

use crate::panics;
use crate::session::{Deadline, Instance, Lent, session};

thread_local! {
    /// A call's message buffer, kept from one call to the next.
    static BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// One API declaration, as the judge knows it: the dispatch unit its calls go to.
pub struct UnitSlot {
    pub name: &'static str,
    /// A hash of the declaration; the subject must have been built from the same one.
    pub fingerprint: u64,
    /// It declares objects used from several threads at once.
    pub shared: bool,
    /// It lends the learner's code a directory.
    pub disk: bool,
    index: OnceLock<u16>,
}

impl UnitSlot {
    pub const fn new(name: &'static str, fingerprint: u64, shared: bool, disk: bool) -> UnitSlot {
        UnitSlot {
            name,
            fingerprint,
            shared,
            disk,
            index: OnceLock::new(),
        }
    }

    fn index(&'static self) -> u16 {
        *self.index.get_or_init(|| session().unit_index(self))
    }
}

/// A learner's object in the subject. Dropping the handle drops the object there (its `Drop`
/// runs, as it would in one process), or, for an object with a process of its own, ends that
/// process: nothing runs when a machine crashes.
pub struct Handle {
    instance: Arc<Instance>,
    id: u64,
    owns_instance: bool,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "object {} in process {}", self.id, self.instance.id)
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let session = session();
        if self.owns_instance {
            session.retire(&self.instance);
            return;
        }
        if std::thread::panicking() || session.is_fatal() || self.instance.alive().is_err() {
            return;
        }
        let call = Call {
            unit: None,
            name: None,
            request: Request::Drop { this: self.id },
            instance: Arc::clone(&self.instance),
            owns_instance: false,
            lent: Vec::new(),
        };
        call.invoke::<()>(&());
    }
}

/// One call, being put together.
pub struct Call<'a> {
    unit: Option<&'static UnitSlot>,
    /// What the learner calls it (`LruCache::get`), when known.
    name: Option<&'static str>,
    request: Request,
    instance: Arc<Instance>,
    owns_instance: bool,
    lent: Vec<(u64, &'a dyn Dir)>,
}

/// What a call returned, and where objects it returned live.
pub struct Returned<R> {
    value: R,
    placement: Placement,
}

/// Where the objects a call returned live.
pub struct Placement {
    instance: Arc<Instance>,
    owns_instance: bool,
}

impl<R> Returned<R> {
    pub fn split(self) -> (R, Placement) {
        (self.value, self.placement)
    }
}

impl Placement {
    /// The handle of an object the call returned, by its id.
    pub fn handle(&self, id: u64) -> Handle {
        Handle {
            instance: Arc::clone(&self.instance),
            id,
            owns_instance: self.owns_instance,
        }
    }
}

impl<'a> Call<'a> {
    /// A function, or a method of a value, of `unit`: it runs in the default instance.
    pub fn function(unit: &'static UnitSlot, method: u16) -> Call<'a> {
        Call::on_instance(unit, method, session().default_instance(), 0, false)
    }

    /// A method of the object behind `this`.
    pub fn method(unit: &'static UnitSlot, method: u16, this: &Handle) -> Call<'a> {
        Call::on_instance(unit, method, Arc::clone(&this.instance), this.id, false)
    }

    /// A constructor whose object gets a process of its own (a node of a cluster).
    pub fn in_own_process(unit: &'static UnitSlot, method: u16) -> Call<'a> {
        Call::on_instance(unit, method, session().spawn_instance(), 0, true)
    }

    fn on_instance(
        unit: &'static UnitSlot,
        method: u16,
        instance: Arc<Instance>,
        this: u64,
        owns_instance: bool,
    ) -> Call<'a> {
        Call {
            unit: Some(unit),
            name: None,
            request: Request::Call {
                unit: unit.index(),
                method,
                this,
            },
            instance,
            owns_instance,
            lent: Vec::new(),
        }
    }

    /// Names what is called, as the learner's code names it, for a panic's description.
    pub fn named(mut self, name: &'static str) -> Call<'a> {
        self.name = Some(name);
        self
    }

    /// Lends `dir` to the learner's code for this call; the id returned names it there.
    pub fn lend_dir(&mut self, dir: &'a dyn Dir) -> u64 {
        let id = session().disk.fresh_id();
        self.lent.push((id, dir));
        id
    }

    /// Hands `dir` to the learner's code for as long as it keeps it.
    pub fn keep_dir(&mut self, dir: Arc<dyn Dir>) -> u64 {
        session().disk.keep_dir(dir)
    }

    /// Hands `listener` over to the learner's code (it is theirs from now on); the id returned
    /// names it there.
    pub fn hand_over(&mut self, listener: std::net::TcpListener) -> u64 {
        session().hand_over(&self.instance, listener.into())
    }

    /// Makes the call with `args` and decodes what it returns as `R`.
    pub fn invoke<R: DeserializeOwned>(self, args: &(impl Serialize + ?Sized)) -> Returned<R> {
        let session = session();
        let deadline = session.call_deadline_unless_fatal();
        if let Err(why) = self.instance.alive() {
            if session.is_stale(&self.instance) {
                // A thread an earlier check left running: it ends here, and changes nothing.
                panics::abort_check();
            }
            if self
                .instance
                .retired
                .load(std::sync::atomic::Ordering::Acquire)
            {
                panic!(
                    "the check used an object whose process the grader had stopped (after a \
                     power cut, or a crash of its node): a bug in the checks"
                );
            }
            session.fail_on(&self.instance, why);
        }
        let mut message = BUFFER.take();
        frame::encode(&mut message, &self.request, args);
        let mut lane = self.instance.take_lane();
        let reply = self.drive(&mut lane, &mut message, deadline);
        self.instance.give_back(lane);
        let value = match reply {
            Ok(Reply::Returned(at)) => frame::payload::<R>(&message[at..]).unwrap_or_else(|why| {
                session.fail_on(
                    &self.instance,
                    format!(
                        "the learner's process answered {} with a value that does not decode \
                         ({why})",
                        self.describe()
                    ),
                )
            }),
            Ok(Reply::Panicked { message, location }) => {
                panics::subject_panicked(message, location, self.name)
            }
            Ok(Reply::Refused(why)) => session.fail_on(
                &self.instance,
                format!("the learner's process refused {}: {why}", self.describe()),
            ),
            Err(why) => session.fail_on(&self.instance, why),
        };
        BUFFER.set(message);
        Returned {
            value,
            placement: Placement {
                instance: self.instance,
                owns_instance: self.owns_instance,
            },
        }
    }

    fn describe(&self) -> String {
        match (&self.request, self.unit) {
            (Request::Call { method, .. }, Some(unit)) => {
                format!("call {method} of {}", unit.name)
            }
            _ => "a drop".into(),
        }
    }

    /// Sends the request and serves the subject's callbacks until its reply comes. On
    /// return, `message` holds the reply, whose payload starts at the offset returned.
    fn drive(
        &self,
        lane: &mut wire::lane::Lane,
        message: &mut Vec<u8>,
        deadline: Option<Deadline>,
    ) -> Result<Reply, String> {
        let session = session();
        let alive = || {
            self.instance.alive()?;
            session.zygote_alive()
        };
        let broken = |b| session.broken(b, deadline);
        let deadline = deadline.map(|d| d.at);
        lane.send(message, deadline, &alive).map_err(broken)?;
        let mut answer = Vec::new();
        loop {
            lane.receive(message, deadline, &alive).map_err(broken)?;
            let (response, rest) = frame::header::<Response>(message).map_err(protocol)?;
            match response {
                Response::Returned { closed } => {
                    session.disk.close(&closed);
                    return Ok(Reply::Returned(message.len() - rest.len()));
                }
                Response::Panicked { message, location } => {
                    return Ok(Reply::Panicked { message, location });
                }
                Response::Refused(why) => return Ok(Reply::Refused(why)),
                Response::Callback => {
                    let op = frame::payload(rest).map_err(protocol)?;
                    let result = session.disk.serve(op, lent(&self.lent));
                    frame::encode(&mut answer, &Request::Answer, &result);
                    lane.send(&answer, deadline, &alive).map_err(broken)?;
                }
            }
        }
    }
}

fn lent<'b>(lent: &'b [(u64, &'b dyn Dir)]) -> &'b Lent<'b> {
    lent
}

fn protocol(why: String) -> String {
    format!("the learner's process broke the grader's protocol: {why}")
}

enum Reply {
    /// The value starts at this offset of the message.
    Returned(usize),
    Panicked {
        message: String,
        location: Option<String>,
    },
    Refused(String),
}

/// A sans-IO handler's context, as it crosses to the subject.
pub fn net_context<P: Process>(ctx: &Ctx<P>) -> NetContext {
    NetContext {
        now: ctx.now(),
        me: ctx.me() as u64,
        rng: ctx.rng_state(),
    }
}

/// Replays what a handler in the subject did into the judge's context.
pub fn net_effects<P: Process>(
    ctx: &mut Ctx<P>,
    effects: NetEffects<P::Message, P::Timer, P::Saved>,
) {
    for (to, message) in effects.sends {
        ctx.send(to as NodeId, message);
    }
    for (delay, timer) in effects.timers {
        ctx.set_timer(delay, timer);
    }
    if let Some(saved) = effects.saved {
        ctx.save(saved);
    }
    ctx.set_rng_state(effects.rng);
}

/// Where a proxy keeps the values it hands out by reference (a `&[Entry]`, an `Option<&V>`),
/// and what its views with arguments answered: they live until the proxy's next `&mut self`
/// call, or its end.
#[derive(Default)]
pub struct Kept {
    items: Mutex<Vec<Box<dyn Any + Send + Sync>>>,
    /// The answer of a view (method, encoded arguments), by its place in `items`.
    remembered: Mutex<std::collections::HashMap<(u16, Vec<u8>), usize>>,
}

impl Kept {
    pub fn keep<T: Any + Send + Sync>(&self, value: T) -> &T {
        self.keep_at(value).0
    }

    /// Keeps `value`; returns it and its place.
    fn keep_at<T: Any + Send + Sync>(&self, value: T) -> (&T, usize) {
        let boxed = Box::new(value);
        let pointer: *const T = &*boxed;
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        items.push(boxed);
        // SAFETY: the box's contents do not move when the box does, and boxes are only dropped
        // by `clear` (which takes `&mut self`, so no reference handed out is alive) or with
        // `self`.
        (unsafe { &*pointer }, items.len() - 1)
    }

    /// What view `method` answered for `arguments` since the last change, or `ask`s it.
    pub fn remember<T: Any + Send + Sync>(
        &self,
        method: u16,
        arguments: &impl Serialize,
        ask: impl FnOnce() -> T,
    ) -> &T {
        let key = (
            method,
            wire::postcard::to_stdvec(arguments).unwrap_or_default(),
        );
        let known = self
            .remembered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .copied();
        if let Some(index) = known {
            let items = self.items.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(value) = items[index].downcast_ref::<T>() {
                let pointer: *const T = value;
                // SAFETY: as in `keep`.
                return unsafe { &*pointer };
            }
        }
        let (value, index) = self.keep_at(ask());
        self.remembered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, index);
        value
    }

    pub fn clear(&mut self) {
        self.items
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.remembered
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}
