//! The one list of domains: a domain registers here with ONE line, and the kernel learns its
//! entities (wire names, tables) from it. Nothing else in the kernel names a domain.

use crate::kernel::entity::{Domain, EntityDecl};

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
}
