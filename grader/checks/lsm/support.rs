//! Helpers the lsm checks share.

// Every judge of the track includes this module, and a scene uses only what it needs of it.
#![allow(dead_code)]

use kit::sim::OpKind;

/// The kinds of operation a store over one file makes, and a fault can be aimed at.
pub const KINDS: [OpKind; 7] = [
    OpKind::Read,
    OpKind::Write,
    OpKind::Sync,
    OpKind::DirSync,
    OpKind::Create,
    OpKind::Open,
    OpKind::Len,
];
