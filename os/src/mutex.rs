//! Taking a mutex whether or not an earlier holder panicked: the data a panicking
//! holder left is still the best there is, and one panic must not turn every later
//! request or worker into another.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// The guard of `m`, poisoned or not.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_mutex_is_still_taken_with_its_data() {
        let m = Mutex::new(1);
        let _ = std::panic::catch_unwind(|| {
            let mut g = m.lock().expect("first");
            *g = 2;
            panic!("holder panics");
        });
        assert!(m.is_poisoned());
        assert_eq!(*lock(&m), 2);
    }
}
