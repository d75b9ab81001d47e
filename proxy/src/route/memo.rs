//! The last workspace prefix each thread parsed, so the requests that follow it
//! (nearly every request: a browser's IDE loads hundreds under one prefix) skip
//! decoding and validating the same owner and repository again.
//!
//! A pure memo: it holds what [`super::parse`] made of the exact bytes of a
//! canonical `/<owner>/<repo>/` (after `/github`), and answers only for a path that
//! begins with those same bytes, so every answer is what parsing would give. Nothing
//! about who asked is kept: identity and policy are decided per request, after it.

use std::cell::RefCell;

use dcs_model::RepoRef;

/// The raw `/<owner>/<repo>/` as it came, the repository it names, its prefix.
struct Last {
    raw: String,
    repo: RepoRef,
    prefix: String,
}

thread_local! {
    static LAST: RefCell<Option<Last>> = const { RefCell::new(None) };
}

/// The repository, prefix and the rest of `after` (the path after `/github`), if
/// `after` begins with the last `/<owner>/<repo>/` this thread remembered.
pub(super) fn recall(after: &str) -> Option<(RepoRef, String, &str)> {
    LAST.try_with(|last| {
        let last = last.try_borrow().ok()?;
        let last = last.as_ref()?;
        let rest = after.strip_prefix(last.raw.as_str())?;
        Some((last.repo.clone(), last.prefix.clone(), rest))
    })
    .ok()
    .flatten()
}

/// Remembers that `raw` (`/<owner>/<repo>/`, canonical) is `repo` under `prefix`.
pub(super) fn remember(raw: &str, repo: &RepoRef, prefix: &str) {
    let _ = LAST.try_with(|last| {
        if let Ok(mut last) = last.try_borrow_mut() {
            *last = Some(Last {
                raw: raw.to_owned(),
                repo: repo.clone(),
                prefix: prefix.to_owned(),
            });
        }
    });
}

/// Forgets what this thread remembered (tests compare parses with and without it).
#[cfg(test)]
pub(super) fn forget() {
    let _ = LAST.try_with(|last| last.borrow_mut().take());
}
