//! `Policy::parse` on any bytes: never panics; a rejected file yields at least one
//! problem, each on a single line (no log injection through the file's contents);
//! an accepted policy decides without panicking.
#![no_main]

use dcs_model::RepoRef;
use dcs_proxy::policy::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Policy::parse(text, "fuzz.yaml") {
        Ok(policy) => {
            let repo = RepoRef::parse("acme/web").expect("valid literal");
            for groups in [vec![], vec!["*".to_owned()], vec!["platform".to_owned()]] {
                let decision = policy.decide(&groups, &repo);
                assert!(!decision.rule().is_empty());
            }
        }
        Err(problems) => {
            assert!(!problems.is_empty());
            for p in &problems {
                assert!(p.starts_with("fuzz.yaml"), "{p:?}");
                assert!(!p.contains(['\n', '\r']), "{p:?}");
            }
        }
    }
});
