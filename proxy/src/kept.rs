//! [`kept`]: a value made from a key, with each thread's last key and value kept,
//! for values every request makes afresh from what is nearly always the key of
//! the request before (one peer behind an ingress, one workspace's prefix, one
//! person): the `X-Forwarded-*` header values, the access line's peer.

use std::borrow::Borrow;
use std::cell::RefCell;
use std::thread::LocalKey;

/// This thread's last key and the value made of it.
pub type Last<K, V> = RefCell<Option<(K, V)>>;

/// `make(key)`, with this thread's last key and value kept in `last`: the same key
/// again costs a comparison and a clone of the value (a reference count, for the
/// values kept) instead of making it.
pub fn kept<Q, V>(last: &'static LocalKey<Last<Q::Owned, V>>, key: &Q, make: impl Fn(&Q) -> V) -> V
where
    Q: ?Sized + ToOwned + PartialEq,
    V: Clone,
{
    last.try_with(|last| {
        let Ok(mut last) = last.try_borrow_mut() else {
            return make(key);
        };
        match &*last {
            Some((seen, value)) if seen.borrow() == key => value.clone(),
            _ => {
                let value = make(key);
                *last = Some((key.to_owned(), value.clone()));
                value
            }
        }
    })
    .unwrap_or_else(|_| make(key))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    thread_local! {
        static LAST: Last<String, usize> = const { RefCell::new(None) };
    }

    #[test]
    fn a_value_is_made_again_only_when_the_key_changes() {
        let made = Cell::new(0);
        let len = |s: &str| {
            made.set(made.get() + 1);
            s.len()
        };
        assert_eq!(kept(&LAST, "abc", len), 3);
        assert_eq!(kept(&LAST, "abc", len), 3);
        assert_eq!(made.get(), 1, "the same key again: kept");
        assert_eq!(kept(&LAST, "abcd", len), 4);
        assert_eq!(kept(&LAST, "abc", len), 3);
        assert_eq!(made.get(), 3, "each new key: made");
        // Another thread keeps its own.
        std::thread::spawn(|| assert_eq!(kept(&LAST, "abc", |s: &str| s.len() + 1), 4))
            .join()
            .expect("thread");
    }
}
