//! The simulation kit: what learner code runs on, and what the checks use to break it.
//!
//! - [`disk`]: a small file-system interface ([`disk::Dir`], [`disk::File`]) with a real
//!   implementation on `std::fs` ([`disk::RealDir`]).
//! - [`sim`]: a deterministic simulated disk that loses, tears and corrupts unsynced writes the
//!   way real disks do on power loss, fails operations on purpose, and counts the work done.
//! - [`checksum`]: the CRC-32 the storage scenes' records carry, for checks that write or read
//!   them byte for byte.
//! - [`fault`]: a directory that fails chosen operations and remembers what was done, for
//!   sweeps that fail every operation of a workload in turn.
//! - [`crash`]: a driver that runs a workload, crashes it at every I/O step, recovers, and checks
//!   what came back against a model of what was promised.
//! - [`net`]: a deterministic network simulator for sans-IO nodes: virtual time, one seeded
//!   random source, loss, duplication, reordering, partitions and crashes.
//! - [`lin`]: a linearizability checker for client histories, which fails closed.
//! - [`consensus`]: the safety properties of a replicated log, checked after every step.
//! - [`diagram`]: space-time diagrams of simulated runs, as SVG.
//!
//! With a feature, a real system for the checks to talk to or to compare with: `redis-client`
//! re-exports the `redis` client crate (checks drive a learner's server as real clients do),
//! `sqlite` re-exports `rusqlite` with SQLite built in (a real database as the oracle).

pub mod checksum;
pub mod consensus;
pub mod crash;
pub mod diagram;
pub mod disk;
pub mod fault;
pub mod lin;
pub mod net;
pub mod runtime;
pub mod sim;

#[cfg(feature = "redis-client")]
pub use redis;
#[cfg(feature = "sqlite")]
pub use rusqlite;
