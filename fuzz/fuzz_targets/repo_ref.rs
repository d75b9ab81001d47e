//! `RepoRef::parse` / `RepoRef::new` / `RepoRef::from_link` and `from_link_at` (the
//! home page's open box, on a git base made of the second string) on any string:
//! never panic, and every accepted reference is a safe path segment pair that
//! round-trips through its display form.
#![no_main]

use dcs_model::repo::LinkBase;
use dcs_model::RepoRef;
use libfuzzer_sys::fuzz_target;

fn check(r: &RepoRef) {
    for part in [r.owner(), r.repo()] {
        assert!(!part.is_empty());
        assert!(part != "." && part != "..", "{r}");
        assert!(part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')));
    }
    let again = RepoRef::parse(&r.to_string()).expect("display form re-parses");
    assert_eq!(&again, r);
}

fuzz_target!(|input: (&str, &str)| {
    let (a, b) = input;
    if let Ok(r) = RepoRef::parse(a) {
        check(&r);
    }
    if let Ok(r) = RepoRef::new(a, b) {
        check(&r);
    }
    if let Ok(r) = RepoRef::from_link(a) {
        check(&r);
    }
    if let Ok(r) = RepoRef::from_link_at(a, &LinkBase::of_git_base(b)) {
        check(&r);
    }
});
