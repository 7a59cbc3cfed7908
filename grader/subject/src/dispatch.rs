//! What generated dispatchers use: a call's arguments and reply, and the objects the judge
//! holds handles to.

use std::any::Any;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// One API declaration, as compiled against one implementation.
pub struct Unit {
    /// A hash of the declaration; the judge's proxies carry the same, or the two sides were
    /// not built from one declaration.
    pub fingerprint: u64,
    pub dispatch: fn(&mut Call) -> Result<(), Refusal>,
}

/// Why a call could not be made at all (a bug on one side, never the learner's doing).
#[derive(Debug, Clone)]
pub struct Refusal(pub String);

impl Refusal {
    pub fn new(why: impl Into<String>) -> Refusal {
        Refusal(why.into())
    }
}

/// One call: which method, on which object, with which arguments; and where its reply goes.
pub struct Call<'a> {
    pub(crate) method: u16,
    pub(crate) this: u64,
    pub(crate) args: &'a [u8],
    pub(crate) out: &'a mut Vec<u8>,
}

impl Call<'_> {
    pub fn method(&self) -> u16 {
        self.method
    }

    /// The arguments, as the tuple the method's proxy encoded.
    pub fn args<A: DeserializeOwned>(&self) -> Result<A, Refusal> {
        wire::frame::payload(self.args).map_err(Refusal)
    }

    /// The value the call returns.
    pub fn reply<R: Serialize + ?Sized>(&mut self, value: &R) -> Result<(), Refusal> {
        let out = std::mem::take(self.out);
        *self.out = wire::postcard::to_extend(value, out)
            .map_err(|e| Refusal::new(format!("a reply that does not encode: {e}")))?;
        Ok(())
    }

    /// Keeps `value` for later calls; the judge refers to it by the id returned.
    pub fn keep<T: 'static>(&self, value: T) -> u64 {
        objects().insert(Slot::Owned(Owned(Box::new(value))))
    }

    /// Keeps `value`, which calls on several lanes may use at once.
    pub fn keep_shared<T: Send + Sync + 'static>(&self, value: T) -> u64 {
        objects().insert(Slot::Shared(Arc::new(value)))
    }

    /// Runs `f` on the object this call is made on, which no other call may use meanwhile.
    pub fn on_mut<T: 'static, R>(&self, f: impl FnOnce(&mut T) -> R) -> Result<R, Refusal> {
        let mut taken = Taken::out_of(self.this)?;
        let object = taken
            .value
            .as_mut()
            .and_then(|owned| owned.0.downcast_mut::<T>())
            .ok_or_else(|| Refusal::new(format!("object {} is of another type", self.this)))?;
        Ok(f(object))
    }

    /// Runs `f` on the shared object this call is made on.
    pub fn on_shared<T: Send + Sync + 'static, R>(
        &self,
        f: impl FnOnce(&T) -> R,
    ) -> Result<R, Refusal> {
        let shared = match objects().get(self.this) {
            Some(Slot::Shared(shared)) => Arc::clone(shared),
            _ => return Err(Refusal::new(format!("no shared object {}", self.this))),
        };
        let object = shared
            .downcast_ref::<T>()
            .ok_or_else(|| Refusal::new(format!("object {} is of another type", self.this)))?;
        Ok(f(object))
    }
}

/// A learner's object that is not `Send`. It is only ever touched by one thread at a time: it
/// is taken out of the table for a call and put back after, under the table's lock.
struct Owned(Box<dyn Any>);

// SAFETY: see above; the learner's safe code cannot hand a non-Send value to another thread, so
// serialised access through the table is the only access there is.
unsafe impl Send for Owned {}

enum Slot {
    Owned(Owned),
    Shared(Arc<dyn Any + Send + Sync>),
    /// Taken out for a call in progress.
    Busy,
}

/// The objects, by id: an id is one more than its index, and is never reused.
#[derive(Default)]
struct Objects {
    slots: Vec<Option<Slot>>,
}

impl Objects {
    fn insert(&mut self, slot: Slot) -> u64 {
        self.slots.push(Some(slot));
        self.slots.len() as u64
    }

    fn get(&self, id: u64) -> Option<&Slot> {
        self.slots.get(id.checked_sub(1)? as usize)?.as_ref()
    }

    fn get_mut(&mut self, id: u64) -> Option<&mut Slot> {
        self.slots.get_mut(id.checked_sub(1)? as usize)?.as_mut()
    }

    fn remove(&mut self, id: u64) -> Option<Slot> {
        self.slots.get_mut(id.checked_sub(1)? as usize)?.take()
    }

    fn put_back(&mut self, id: u64, slot: Slot) {
        if let Some(place) = id
            .checked_sub(1)
            .and_then(|i| self.slots.get_mut(i as usize))
        {
            *place = Some(slot);
        }
    }
}

fn objects() -> MutexGuard<'static, Objects> {
    static OBJECTS: LazyLock<Mutex<Objects>> = LazyLock::new(Default::default);
    OBJECTS.lock().unwrap_or_else(|p| p.into_inner())
}

/// An object taken out of the table for one call, put back when the call ends, even by a panic.
struct Taken {
    id: u64,
    value: Option<Owned>,
}

impl Taken {
    fn out_of(id: u64) -> Result<Taken, Refusal> {
        let mut objects = objects();
        match objects.get_mut(id) {
            Some(slot @ Slot::Owned(_)) => match std::mem::replace(slot, Slot::Busy) {
                Slot::Owned(owned) => Ok(Taken {
                    id,
                    value: Some(owned),
                }),
                _ => unreachable!("matched above"),
            },
            Some(Slot::Busy) => Err(Refusal::new(format!(
                "object {id} is in use by another call: it was declared without #[shared]"
            ))),
            _ => Err(Refusal::new(format!("no object {id}"))),
        }
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        if let Some(value) = self.value.take() {
            objects().put_back(self.id, Slot::Owned(value));
        }
    }
}

/// Drops object `id`, running the learner's `Drop` outside the table's lock (it may call the
/// disk, or panic).
pub(crate) fn drop_object(id: u64) -> Result<(), Refusal> {
    let slot = objects().remove(id);
    match slot {
        Some(Slot::Owned(owned)) => drop(owned),
        Some(Slot::Shared(shared)) => drop(shared),
        Some(Slot::Busy) => {
            objects().put_back(id, Slot::Busy);
            return Err(Refusal::new(format!(
                "object {id} is in use by another call"
            )));
        }
        None => return Err(Refusal::new(format!("no object {id}"))),
    }
    Ok(())
}
