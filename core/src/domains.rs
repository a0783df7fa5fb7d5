//! The one list of domains: a domain registers here with ONE line, and the kernel learns its
//! entities (wire names, tables) from it. Nothing else in the kernel names a domain.

use crate::kernel::entity::{Domain, EntityDecl};
use crate::kernel::jobs::schedule::ScheduleDecl;
use crate::kernel::jobs::JobDecl;

/// Every domain hearth knows.
pub static DOMAINS: &[&Domain] = &[
    &crate::homeheroes::DOMAIN,
    &crate::ledger::DOMAIN,
    &crate::payments::DOMAIN,
    &crate::amenities::DOMAIN,
    &crate::canteen::DOMAIN,
    &crate::rooms::DOMAIN,
    &crate::khedma::DOMAIN,
    &crate::notifications::DOMAIN,
    &crate::residents::DOMAIN,
    &crate::maintenance::DOMAIN,
    &crate::limits::DOMAIN,
];

/// The job kinds each domain enqueues (one line per domain that has background work): what
/// [`JobDecl::lookup`] finds. A kind not listed here is refused wherever it is met.
pub static JOB_KINDS: &[&[&JobDecl]] = &[
    crate::maintenance::jobs::JOBS,
    crate::ledger::jobs::JOBS,
    crate::amenities::jobs::JOBS,
    crate::payments::jobs::JOBS,
    crate::rooms::jobs::JOBS,
];

/// The periodic work each domain declares (one line per domain): what a scheduler runs.
pub static SCHEDULES: &[&[&ScheduleDecl]] = &[
    crate::maintenance::jobs::SCHEDULES,
    crate::ledger::jobs::SCHEDULES,
    crate::amenities::jobs::SCHEDULES,
    crate::payments::jobs::SCHEDULES,
    crate::rooms::jobs::SCHEDULES,
];

/// Every registered job kind (with the `testing` feature, also the conformance suite's own kinds).
pub fn job_kinds() -> impl Iterator<Item = &'static JobDecl> {
    let all = JOB_KINDS.iter().flat_map(|k| k.iter().copied());
    #[cfg(feature = "testing")]
    let all = all.chain(crate::testing::jobs::JOBS.iter().copied());
    all
}

/// The registered job kind named `kind`.
pub fn job_kind(kind: &str) -> Option<&'static JobDecl> {
    job_kinds().find(|d| d.kind == kind)
}

/// Every declared schedule.
pub fn schedules() -> impl Iterator<Item = &'static ScheduleDecl> {
    SCHEDULES.iter().flat_map(|s| s.iter().copied())
}

/// Every registered entity declaration.
pub fn entities() -> impl Iterator<Item = &'static EntityDecl> {
    DOMAINS.iter().flat_map(|d| d.entities.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn wire_names_and_tables_are_unique_and_namespaced() {
        let mut kinds = HashSet::new();
        let mut tables = HashSet::new();
        for d in DOMAINS {
            for e in d.entities {
                assert!(e.kind.starts_with(&format!("{}.", d.name)), "{} is not in {}", e.kind, d.name);
                assert!(kinds.insert(e.kind), "{} declared twice", e.kind);
                for alias in e.aliases {
                    assert!(kinds.insert(alias), "alias {alias} declared twice");
                }
                assert!(tables.insert(e.table), "table {} declared twice", e.table);
            }
        }
    }

    #[test]
    fn job_kinds_and_schedules_are_unique_namespaced_and_valid() {
        let names: HashSet<&str> = DOMAINS.iter().map(|d| d.name).collect();
        let mut kinds = HashSet::new();
        for k in job_kinds() {
            let ns = k.kind.split('.').next().unwrap_or("");
            assert!(names.contains(ns) || ns == "testing", "{} is in no domain", k.kind);
            assert!(kinds.insert(k.kind), "job kind {} declared twice", k.kind);
            assert!((1..=crate::kernel::jobs::MAX_ATTEMPTS_LIMIT).contains(&k.max_attempts), "{}", k.kind);
        }
        let mut schedules = HashSet::new();
        for s in super::schedules() {
            assert!(schedules.insert(s.name), "schedule {} declared twice", s.name);
            let parsed = crate::kernel::jobs::schedule::Schedule::from_decl(s);
            assert!(parsed.is_ok(), "{parsed:?}");
            assert!(
                job_kind(s.job.kind).is_some_and(|k| std::ptr::eq(k, s.job)),
                "{} runs an unregistered kind",
                s.name
            );
        }
        assert_eq!(schedules.len(), 6);
    }
}
