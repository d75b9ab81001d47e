//! `dcs-os`: the Linux primitives the proxy, the launcher and the CLI share, each
//! written once.
//!
//! # Layout
//! - [`proc`]: `/proc/<pid>/stat` parsing, process liveness (alive, gone, or
//!   unknown when `/proc` cannot be read, e.g. out of descriptors), and a process's
//!   descendants (a workspace's kill domain when it runs unsandboxed).
//! - [`group`]: signalling a whole process group and listing its live members.
//! - [`atomic`]: writing a file so readers see the old or the new content, never half;
//!   or creating it once, the first writer winning, never replaced.
//! - [`durable`]: syncing a written tree (`syncfs`) or a folder's new names (`fsync`)
//!   so they survive a power loss.
//! - [`confined`]: reading and writing files below a folder a less-trusted party can
//!   write (a user's volume), never through a link it planted, reads bounded.
//! - [`lock`]: advisory whole-file locks (`flock`) that die with their holder.
//! - [`mutex`]: taking a mutex whether or not an earlier holder panicked.

pub mod atomic;
pub mod confined;
pub mod durable;
pub mod group;
pub mod lock;
pub mod mutex;
pub mod proc;

pub use atomic::{create_new_private, replace_atomic, write_atomic, write_atomic_private};
pub use lock::FileLock;
pub use proc::{Liveness, Stat};
