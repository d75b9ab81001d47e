//! Starting again after a failed start. Knative never retries a revision that
//! failed (its progress deadline passed, its image could not be pulled, its
//! container kept crashing: knative/serving#12330): the same template applied
//! again is the same generation, which reads failed at once, for ever. So the
//! revision template carries the start's attempt number ([`ATTEMPT`], absent for
//! the first): an `ensure` that finds the current generation failed applies the
//! next number, a new generation, whose revision Knative starts afresh. Every
//! other apply carries the number it found, so it changes nothing.
//!
//! How often a failed workspace is tried again is the activator's to bound: it
//! remembers a failed start and answers with it (5 s, doubling, at most a minute)
//! before it calls `ensure` again.

use std::collections::BTreeMap;
use std::time::Duration;

use super::ready::{self, Verdict};
use super::types::{Ksvc, Revision};

/// The revision template annotation holding the attempt number.
pub const ATTEMPT: &str = "dcs.dev/attempt";

/// The attempt number `ksvc`'s template carries (0: none, the first).
pub fn of(ksvc: &Ksvc) -> u64 {
    ksvc.spec
        .template
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ATTEMPT))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The attempt to apply over `existing`: its own, or the next one if its current
/// generation failed (`latest`: its latest created revision, if known). A pod
/// that cannot be scheduled has not failed until it has been so for `grace`
/// ([`ready::verdict_within`]): its revision may get its node yet.
pub fn next(existing: Option<&Ksvc>, latest: Option<&Revision>, grace: Duration) -> u64 {
    let Some(existing) = existing else {
        return 0;
    };
    let generation = existing.metadata.generation.unwrap_or(1);
    match ready::verdict_within(existing, latest, generation, grace) {
        Verdict::Failed(_) => of(existing).saturating_add(1),
        Verdict::Ready | Verdict::Pending => of(existing),
    }
}

/// `ksvc` (as generated) carrying `attempt`.
pub fn stamp(ksvc: &mut Ksvc, attempt: u64) {
    if attempt == 0 {
        return;
    }
    ksvc.spec
        .template
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(ATTEMPT.to_owned(), attempt.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::knative::ready::SCHEDULING_GRACE;
    use crate::runtime::knative::types::{ksvc_resource, Condition, KsvcSpec, KsvcStatus};

    fn blank() -> Ksvc {
        Ksvc::new("w", &ksvc_resource(), KsvcSpec::default())
    }

    fn service(attempt: Option<&str>, ready: &str) -> Ksvc {
        let mut k = blank();
        k.metadata.generation = Some(3);
        if let Some(n) = attempt {
            k.spec.template.metadata.annotations =
                Some(BTreeMap::from([(ATTEMPT.to_owned(), n.to_owned())]));
        }
        k.status = Some(KsvcStatus {
            observed_generation: Some(3),
            conditions: vec![Condition {
                type_: "Ready".into(),
                status: ready.into(),
                reason: (ready == "False").then(|| "RevisionFailed".into()),
                ..Condition::default()
            }],
            ..KsvcStatus::default()
        });
        k
    }

    #[test]
    fn only_a_failed_generation_moves_the_attempt_on() {
        assert_eq!(next(None, None, SCHEDULING_GRACE), 0);
        assert_eq!(
            next(Some(&service(None, "True")), None, SCHEDULING_GRACE),
            0
        );
        assert_eq!(
            next(Some(&service(None, "Unknown")), None, SCHEDULING_GRACE),
            0
        );
        assert_eq!(
            next(Some(&service(None, "False")), None, SCHEDULING_GRACE),
            1
        );
        assert_eq!(
            next(Some(&service(Some("4"), "True")), None, SCHEDULING_GRACE),
            4
        );
        assert_eq!(
            next(Some(&service(Some("4"), "False")), None, SCHEDULING_GRACE),
            5
        );
        // Someone else's value: as if none.
        assert_eq!(
            next(Some(&service(Some("x"), "False")), None, SCHEDULING_GRACE),
            1
        );
    }

    #[test]
    fn the_first_attempt_adds_nothing_to_the_template() {
        let mut k = blank();
        stamp(&mut k, 0);
        assert_eq!(k.spec.template.metadata.annotations, None);
        stamp(&mut k, 2);
        assert_eq!(of(&k), 2);
    }
}
