//! What crosses between a judge and its subject.
//!
//! The judge holds the checks and decides every verdict; the subject runs the learner's code and
//! nothing else. They share memory (a [`region::Region`] per subject instance) divided into
//! [`lane::Lane`]s, request-and-reply channels where one side at a time holds the baton, and
//! they speak the messages of [`frame`] on them. Everything the subject writes is data for the
//! judge to validate, never a verdict.

pub mod control;
pub mod frame;
pub mod lane;
pub mod region;

pub use postcard;
pub use serde;
