//! The launcher's contract is documented whole: every `DCS_*` variable of
//! [`dcs_model::env::ALL`] has its row in `docs/architecture.md`'s table, and the
//! table names no variable the contract lacks.

use std::collections::BTreeSet;

#[test]
fn the_architecture_table_lists_every_launcher_variable() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/architecture.md");
    let doc = std::fs::read_to_string(path).expect("docs/architecture.md");
    let table = doc
        .split("## The launcher contract")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("the launcher contract section");
    let documented: BTreeSet<&str> = table
        .lines()
        .filter_map(|line| line.strip_prefix("| `")?.split('`').next())
        .collect();
    let contract: BTreeSet<&str> = dcs_model::env::ALL.iter().copied().collect();
    let missing: Vec<_> = contract.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&contract).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "docs/architecture.md's launcher table lacks {missing:?} and names {unknown:?}, which the contract lacks"
    );
}
