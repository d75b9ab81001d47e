//! The proxy's memory allocator: jemalloc, with its background threads on, so that
//! the memory of closed connections goes back to the system within seconds
//! (jemalloc's dirty-page decay, 10 s by default). glibc's allocator keeps what its
//! per-thread arenas freed: after thousands of WebSockets closed, their memory
//! stayed resident for good.
//!
//! The allocator applies to every program linking this crate (the proxy, and the
//! end-to-end tests that link it).

use tracing::{debug, warn};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Starts jemalloc's background threads, which purge freed memory on their own
/// (without them, only the next allocation on the same arena would).
pub fn return_freed_memory() {
    match tikv_jemalloc_ctl::background_thread::write(true) {
        Ok(()) => debug!("allocator background purging on"),
        Err(err) => warn!(%err, "allocator background purging unavailable"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_purging_can_be_turned_on() {
        return_freed_memory();
        assert!(tikv_jemalloc_ctl::background_thread::read().expect("read"));
    }
}
