//! Kernel conformance: every registered entity is known to the store (its table answers a query
//! and a count), so a forgotten migration or mapping fails here on every store, never at run time.

use crate::kernel::entity::EntityKind;
use crate::kernel::query::Query;
use crate::kernel::store::Store;

/// Every entity of every registered domain can be queried and counted on a fresh store.
pub async fn every_registered_entity_is_stored<S: Store + Clone + 'static>(store: S) {
    let mut seen = 0;
    for decl in crate::domains::entities() {
        let kind = EntityKind::of(decl);
        let rows = store.query_rows(&Query::kind(kind).limit(1)).await;
        assert!(rows.is_ok(), "{}: {:?}", decl.kind, rows.err());
        let n = store.count_rows(&Query::kind(kind)).await;
        assert_eq!(n, Ok(0), "{} on a fresh store", decl.kind);
        assert_eq!(store.get_row(kind, uuid::Uuid::from_u128(1)).await.map(|r| r.is_none()), Ok(true), "{}", decl.kind);
        seen += 1;
    }
    assert!(seen >= 18, "only {seen} entities registered");
}

/// Every read through one `Reads::Many` view sees the state of one moment: a commit that lands
/// between two reads of the view is invisible to the second (and to a query and a count), while the
/// store itself sees it at once. A `Reads::One` view serves one read and refuses the next.
pub async fn a_snapshot_sees_one_committed_state<S: Store + Clone + 'static>(store: S) {
    use crate::homeheroes::model::ServiceRequest;
    use crate::kernel::store::{ReadExt, Reads};
    let world = super::fixtures::World::new(store.clone());
    let civilian = world.civilian().await;
    let request = world.request(&civilian).await;
    let by_owner = || Query::of::<ServiceRequest>().eq("civilian_id", request.civilian_id.as_uuid());

    let view = store.snapshot(Reads::Many).await.expect("snapshot");
    let before = view.get::<ServiceRequest>(request.id.as_uuid()).await.expect("read").expect("exists");
    assert_eq!(before.value, request);
    // A second request and a change to the first commit while the view is open.
    let second = world.request(&civilian).await;
    world.hh.cancel(&civilian, request.id, Some("changed my mind".into())).await.expect("cancel");

    let again = view.get::<ServiceRequest>(request.id.as_uuid()).await.expect("read").expect("exists");
    assert_eq!(again, before, "the view still sees the state it started with");
    assert_eq!(view.count(by_owner()).await, Ok(1), "the view does not see the second request");
    assert!(view.get::<ServiceRequest>(second.id.as_uuid()).await.expect("read").is_none());
    drop(view);

    let now = store.get::<ServiceRequest>(request.id.as_uuid()).await.expect("read").expect("exists");
    assert_eq!(now.version, before.version + 1, "the store sees the cancellation");
    assert_eq!(store.count(by_owner()).await, Ok(2));

    let one = store.snapshot(Reads::One).await.expect("snapshot");
    assert!(one.get::<ServiceRequest>(request.id.as_uuid()).await.expect("first read").is_some());
    let refused = one.get::<ServiceRequest>(request.id.as_uuid()).await;
    assert!(matches!(refused, Err(crate::kernel::store::StoreError::Backend { .. })), "{refused:?}");
}

crate::conformance_cases!("kernel"; every_registered_entity_is_stored, a_snapshot_sees_one_committed_state);
