//! What only the Postgres store has: its schema and migrations (versions, append-only triggers, the
//! upgrade of a version-9 database), its commit paths (one statement, the transaction path, grouped
//! deltas) and its SQL for the kernel's generic queries and snapshots. Each test in its own schema.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use hearth_core::canteen::ResidentRoom;
use hearth_core::id::{RoomId, UserId};
use hearth_core::kernel::query::{Dir, Filter, Query};
use hearth_core::kernel::store::{ChangeSet, Expect, ReadExt, Reader, Reads, Store, StoreError, Write};
use hearth_core::kernel::value::Value;
use hearth_core::kernel::{Entity, EntityKind};
use hearth_core::rooms::Room;
use hearth_postgres::{latest_schema_version, PgStore, MIGRATOR};
use uuid::Uuid;

fn insert<T: Entity>(value: &T) -> Write {
    Write::Row { kind: T::kind(), id: value.id(), row: value.to_row(), expect: Expect::Absent }
}

fn update<T: Entity>(value: &T, version: u64) -> Write {
    Write::Row { kind: T::kind(), id: value.id(), row: value.to_row(), expect: Expect::Version(version) }
}

fn writes(writes: Vec<Write>) -> ChangeSet {
    ChangeSet { writes, ..ChangeSet::default() }
}

fn room(n: u128, number: &str, beds: u32) -> Room {
    Room { id: RoomId::from_uuid(Uuid::from_u128(n)), number: number.to_owned(), beds, reserved: 0 }
}

fn reserve(room: &Room, n: i64) -> Write {
    Write::Delta { kind: Room::kind(), id: room.id.as_uuid(), add: vec![("reserved", n)], require: Vec::new() }
}

async fn rooms(store: &PgStore, q: Query) -> Vec<String> {
    store.find::<Room>(q).await.unwrap().into_iter().map(|r| r.value.number).collect()
}

#[tokio::test]
async fn a_fresh_store_reports_the_latest_schema_version() {
    let store = common::fresh().await;
    assert_eq!(latest_schema_version(), MIGRATOR.iter().count() as i64, "migrations are numbered without gaps");
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")).unwrap().count();
    assert_eq!(latest_schema_version(), i64::try_from(files).unwrap(), "every migration file is embedded");
    assert_eq!(store.schema_version().await.unwrap(), latest_schema_version());
    // Migrating again changes nothing.
    store.migrate().await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), latest_schema_version());
}

#[tokio::test]
async fn audit_log_is_append_only_in_the_database() {
    let store = common::fresh().await;
    let err = sqlx::query("DELETE FROM audit_log").execute(store.pool()).await;
    // Row triggers fire per row: deleting from an empty log succeeds, so insert a row first.
    assert!(err.is_ok());
    sqlx::query("INSERT INTO audit_log (id, entity_kind, entity_id, action, actor, after, version, at) VALUES ($1, 'homeheroes.profile', $1, 'create', 'system', '{}', 1, now())")
        .bind(Uuid::new_v4())
        .execute(store.pool())
        .await
        .unwrap();
    for sql in ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"] {
        let err = sqlx::query(sql).execute(store.pool()).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

#[tokio::test]
async fn ledger_transfers_are_append_only_in_the_database() {
    let store = common::fresh().await;
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, currency, kind, timeout_secs,
             linked, code, result, actor, created_at)
         VALUES ($1, $1, $1, 1, 'INR', 'single', 0, false, 'adjustment', 'accounts_must_be_different', 'system', now())",
    )
    .bind(id)
    .execute(store.pool())
    .await
    .unwrap();
    for sql in ["UPDATE ledger_transfers SET amount = 2", "DELETE FROM ledger_transfers", "TRUNCATE ledger_transfers"] {
        let err = sqlx::query(sql).execute(store.pool()).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

/// A change set that writes one row twice cannot be one statement (CTEs do not see each other's
/// effects): the store takes the transaction path, which applies the writes in order.
#[tokio::test]
async fn change_sets_writing_a_row_twice_take_the_transaction_path() {
    use hearth_core::ledger::model::{Account, AccountKind};
    use hearth_core::ledger::{Ledger, LedgerStore};
    use hearth_core::system::{RandomIds, SystemClock};
    use std::sync::Arc;

    let store = common::fresh().await;
    let ledger = Ledger::new(store.clone(), Arc::new(SystemClock), Arc::new(RandomIds));
    let fees = ledger
        .system_account(&hearth_core::Actor::System, AccountKind::Refunds, hearth_core::Currency::INR)
        .await
        .unwrap();
    let active = vec![("frozen", Value::Bool(false)), ("closed", Value::Bool(false))];
    let credit = |n| Write::Delta {
        kind: Account::kind(),
        id: fees.id.as_uuid(),
        add: vec![("credits_posted", n)],
        require: active.clone(),
    };
    let before = store.ledger_accounts(&[fees.id]).await.unwrap().remove(0);
    store.commit(writes(vec![credit(100), credit(50)])).await.unwrap();
    let account = store.ledger_accounts(&[fees.id]).await.unwrap().remove(0);
    assert_eq!(account.value.balance.credits_posted, 150);
    assert_eq!(account.version, before.version + 2, "each delta moves the version");
    // Update and delta of one row, in order, in one change set.
    let mut frozen = account.value.clone();
    frozen.flags.frozen = true;
    let err = store.commit(writes(vec![update(&frozen, account.version), credit(1)])).await.unwrap_err();
    // The versioned flag write lands first, then the delta finds the account frozen: all rolled back.
    assert!(matches!(err, StoreError::GuardFailed { entity, .. } if entity == Account::kind()), "{err:?}");
    let again = store.ledger_accounts(&[fees.id]).await.unwrap().remove(0);
    assert_eq!((again.version, again.value.flags.frozen), (account.version, false));
}

/// Deltas on several rows of one table are one lock-ordered `UPDATE … FROM (VALUES …)`: all apply,
/// or — when one breaks its guard or finds its row gone — none.
#[tokio::test]
async fn deltas_on_many_rows_apply_together_or_not_at_all() {
    let store = common::fresh().await;
    let all: Vec<Room> = (1..=4).map(|i| room(i, &format!("R-{i}"), 2)).collect();
    store.commit(writes(all.iter().map(insert).collect())).await.unwrap();
    // Two rows (no explicit lock step) and four rows (with it).
    store.commit(writes(all[..2].iter().map(|r| reserve(r, 1)).collect())).await.unwrap();
    store.commit(writes(all.iter().map(|r| reserve(r, 1)).collect())).await.unwrap();
    let stored = store.find::<Room>(Query::of::<Room>().order_by("number", Dir::Asc)).await.unwrap();
    let got: Vec<(u32, u64)> = stored.iter().map(|r| (r.value.reserved, r.version)).collect();
    assert_eq!(got, vec![(2, 3), (2, 3), (1, 2), (1, 2)]);

    // R-1 is full: its CHECK, a declared guard, fails the whole change set.
    let err = store.commit(writes(all.iter().map(|r| reserve(r, 1)).collect())).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::GuardFailed { entity, guard } if *entity == Room::kind() && guard == "rooms_reserved_within_beds"),
        "{err:?}"
    );
    // A delta on a row that is not there fails its count check.
    let ghost = room(99, "R-99", 2);
    let err =
        store.commit(writes(vec![reserve(&all[2], 1), reserve(&all[3], 1), reserve(&ghost, 1)])).await.unwrap_err();
    assert!(matches!(&err, StoreError::GuardFailed { entity, .. } if *entity == Room::kind()), "{err:?}");
    // A single delta whose `require` does not hold.
    let picky = Write::Delta {
        kind: Room::kind(),
        id: all[2].id.as_uuid(),
        add: vec![("reserved", 1)],
        require: vec![("beds", Value::Int(3))],
    };
    let err = store.commit(writes(vec![picky])).await.unwrap_err();
    assert!(matches!(&err, StoreError::GuardFailed { entity, .. } if *entity == Room::kind()), "{err:?}");
    let after = store.find::<Room>(Query::of::<Room>().order_by("number", Dir::Asc)).await.unwrap();
    assert_eq!(after, stored, "nothing of the refused change sets applied");
}

#[tokio::test]
async fn writes_map_database_errors_onto_the_contract() {
    let store = common::fresh().await;
    let a = room(1, "A-1", 2);
    store.commit(writes(vec![insert(&a)])).await.unwrap();
    // The key again, then the unique number again.
    let err = store.commit(writes(vec![insert(&a)])).await.unwrap_err();
    assert_eq!(err, StoreError::AlreadyExists { entity: Room::kind() });
    let err = store.commit(writes(vec![insert(&room(2, "A-1", 2))])).await.unwrap_err();
    assert_eq!(err, StoreError::AlreadyExists { entity: Room::kind() });
    // A stale version.
    let err = store.commit(writes(vec![update(&room(1, "A-1", 3), 7)])).await.unwrap_err();
    assert_eq!(err, StoreError::VersionConflict { entity: Room::kind() });
    // A CHECK that is no guard is a backstop constraint.
    let err = store.commit(writes(vec![update(&room(1, "A-1", 13), 1)])).await.unwrap_err();
    assert_eq!(err, StoreError::Constraint { name: "rooms_beds".into() });
    let stored = store.get::<Room>(a.id.as_uuid()).await.unwrap().unwrap();
    assert_eq!((stored.value, stored.version), (a, 1));
}

#[tokio::test]
async fn queries_filter_order_and_page_in_sql() {
    let store = common::fresh().await;
    let all: Vec<Room> = ["C", "A", "E", "B", "D"].iter().enumerate().map(|(i, n)| room(i as u128 + 1, n, 2)).collect();
    store.commit(writes(all.iter().map(insert).collect())).await.unwrap();
    let by_number = || Query::of::<Room>().order_by("number", Dir::Asc);
    assert_eq!(rooms(&store, by_number()).await, ["A", "B", "C", "D", "E"]);
    assert_eq!(rooms(&store, by_number().filter(Filter::In("number", vec![]))).await, Vec::<String>::new());
    assert_eq!(rooms(&store, by_number().filter(Filter::NotIn("number", vec![]))).await.len(), 5);
    let bd = vec![Value::from("B"), Value::from("D")];
    assert_eq!(rooms(&store, by_number().filter(Filter::In("number", bd.clone()))).await, ["B", "D"]);
    assert_eq!(rooms(&store, by_number().filter(Filter::NotIn("number", bd))).await, ["A", "C", "E"]);
    // Mixed types cannot make one array: one placeholder each.
    let mixed = vec![Value::from("A"), Value::Null(hearth_core::kernel::ValueType::Text)];
    assert_eq!(rooms(&store, by_number().filter(Filter::In("number", mixed))).await, ["A"]);
    let any = Filter::Any(vec![
        vec![Filter::Eq("number", "A".into())],
        vec![Filter::Ge("number", "D".into()), Filter::Lt("number", "E".into())],
    ]);
    assert_eq!(rooms(&store, by_number().filter(any)).await, ["A", "D"]);
    assert_eq!(rooms(&store, by_number().filter(Filter::Any(vec![]))).await, Vec::<String>::new());
    // Keyset pages, both directions; offset paging.
    assert_eq!(rooms(&store, by_number().after(vec!["B".into()]).limit(2)).await, ["C", "D"]);
    let desc = Query::of::<Room>().order_by("number", Dir::Desc).order_by("id", Dir::Desc);
    let c_id = Value::Uuid(all[0].id.as_uuid());
    assert_eq!(rooms(&store, desc.after(vec!["C".into(), c_id])).await, ["B", "A"]);
    assert_eq!(rooms(&store, by_number().offset(3)).await, ["D", "E"]);
    assert_eq!(store.count(by_number().filter(Filter::Gt("number", "B".into())).limit(1)).await.unwrap(), 3);
    // NOT EXISTS over another entity: rooms with no held reservation.
    sqlx::query(
        "INSERT INTO bed_reservations (id, room_id, user_id, status, lunchbox, charge, currency, expires_at, created_at,
             updated_at, version)
         VALUES ($1, $2, $1, 'held', false, 0, 'INR', now(), now(), now(), 1),
                ($3, $4, $3, 'released', false, 0, 'INR', now(), now(), now(), 1)",
    )
    .bind(Uuid::from_u128(101))
    .bind(all[1].id.as_uuid())
    .bind(Uuid::from_u128(102))
    .bind(all[3].id.as_uuid())
    .execute(store.pool())
    .await
    .unwrap();
    let free = Filter::NotExists {
        kind: hearth_core::rooms::BedReservation::kind(),
        inner: "room_id",
        outer: "id",
        filter: vec![Filter::Eq("status", "held".into())],
    };
    assert_eq!(rooms(&store, by_number().filter(free)).await, ["B", "C", "D", "E"]);
    // Names come only from declarations, and must be plain identifiers.
    let err = store.find::<Room>(Query::of::<Room>().eq("number; drop table rooms", "x")).await.unwrap_err();
    assert!(matches!(err, StoreError::Backend { .. }), "{err:?}");
}

/// A multi-read snapshot sees one committed state until it is dropped; a one-read view refuses a
/// second read.
#[tokio::test]
async fn snapshots_see_one_committed_state() {
    let store = common::fresh().await;
    let user = UserId::from_uuid(Uuid::from_u128(5));
    let first = ResidentRoom { user_id: user, room: "B-204".into() };
    store.commit(writes(vec![insert(&first)])).await.unwrap();
    let view = store.snapshot(Reads::Many).await.unwrap();
    let seen = view.get::<ResidentRoom>(user.as_uuid()).await.unwrap().unwrap();
    assert_eq!((seen.value.room.as_str(), seen.version), ("B-204", 1));
    let moved = ResidentRoom { user_id: user, room: "C-101".into() };
    store.commit(writes(vec![update(&moved, 1)])).await.unwrap();
    let again = view.get::<ResidentRoom>(user.as_uuid()).await.unwrap().unwrap();
    assert_eq!((again.value.room.as_str(), again.version), ("B-204", 1), "the snapshot does not move");
    drop(view);
    let now = store.get::<ResidentRoom>(user.as_uuid()).await.unwrap().unwrap();
    assert_eq!((now.value.room.as_str(), now.version), ("C-101", 2));

    let one = store.snapshot(Reads::One).await.unwrap();
    assert!(one.get::<ResidentRoom>(user.as_uuid()).await.unwrap().is_some());
    let err = one.get::<ResidentRoom>(user.as_uuid()).await.unwrap_err();
    assert!(matches!(err, StoreError::Backend { .. }), "{err:?}");
}

/// A view dropped while its `BEGIN` is in flight (an abandoned request) must not hand the pool a
/// connection inside that read-only transaction: later commits on the connection must still land.
/// (Multi-threaded, as an application's runtime: there the cut falls inside `BEGIN`; sqlx 0.9 alone
/// fails this test at the fourth cut.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_snapshot_dropped_while_it_begins_leaves_no_transaction_behind() {
    use std::future::Future;
    // One connection: every statement after the drop reuses the one the view began on.
    let store = common::fresh_with(1).await;
    // Cut the first read off after a growing number of polls: before, during and after `BEGIN`.
    for cut in 0..40u128 {
        let view = store.snapshot(Reads::Many).await.unwrap();
        {
            let mut read = Box::pin(view.get::<Room>(Uuid::from_u128(cut)));
            for _ in 0..cut {
                let poll_once = std::future::poll_fn(|cx| std::task::Poll::Ready(read.as_mut().poll(cx).is_ready()));
                if poll_once.await {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_micros(200)).await;
            }
        }
        drop(view);
        let r = room(cut + 1, &format!("R-{cut}"), 2);
        store.commit(writes(vec![insert(&r)])).await.unwrap();
        let stored = store.snapshot(Reads::Many).await.unwrap().get::<Room>(r.id.as_uuid()).await.unwrap();
        assert_eq!(stored.map(|s| s.value), Some(r));
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM rooms").fetch_one(store.pool()).await.unwrap();
    assert_eq!(n, 40);
}

/// Stored entity kinds are read through the registry: an unknown one is corrupt, never another kind.
#[tokio::test]
async fn unknown_stored_entity_kinds_are_corrupt() {
    let store = common::fresh().await;
    sqlx::query(
        "INSERT INTO outbox (id, topic, entity_kind, entity_id, payload, audience, at)
         VALUES ($1, 'x.created', 'no_such_kind', $1, '{}', '{}', now())",
    )
    .bind(Uuid::new_v4())
    .execute(store.pool())
    .await
    .unwrap();
    let err = store.outbox_after(0, 10).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(EntityKind::parse("no_such_kind").is_none());
}

mod upgrade;

// ---------------------------------------------------------------------------------------------
// Issue 15 §1: transient failures provoked for real never become an offline action's final answer.
// Replicache's push rule (https://doc.replicache.dev/reference/server-push, "Error handling"): "If
// a temporary error … the server should halt processing … without marking the mutation processed".

mod transient {
    use super::common;
    use hearth_core::homeheroes::commands::{RequestCommand, RequestOp, UpdateProfile};
    use hearth_core::homeheroes::input::ProfileInput;
    use hearth_core::homeheroes::HomeHeroesStore;
    use hearth_core::id::ClientId;
    use hearth_core::kernel::store::Reader;
    use hearth_core::offline::{Action, ActionResult, Envelope};
    use hearth_core::system::RandomIds;
    use hearth_core::testing::fixtures::{request_input, World};
    use hearth_core::time::Clock;
    use hearth_core::ErrorCode;
    use hearth_postgres::PgStore;
    use sqlx::{Connection, Executor, PgConnection};

    /// How the batch's waiting statement is stopped.
    #[derive(Debug, Clone, Copy)]
    enum Stop {
        /// The session's `statement_timeout` (SQLSTATE 57014).
        StatementTimeout,
        /// The session's `lock_timeout` (SQLSTATE 55P03).
        LockTimeout,
        /// `pg_cancel_backend` of the backend running the batch (57014).
        Cancel,
        /// `pg_terminate_backend` of the backend running the batch (57P01, then a closed socket).
        Terminate,
    }

    /// A civilian's pending request, and a batch that cancels it and renames the civilian — run while
    /// another connection holds the request's row lock, stopped by `stop`: both actions answer
    /// `retry_later` with `unavailable`, nothing is recorded; once the lock is gone, a resend applies
    /// both exactly once.
    async fn locked_batch(stop: Stop) {
        let (setup, schema) = common::empty_schema_named(4).await;
        let setup = PgStore::from_pool(setup);
        setup.migrate().await.unwrap();
        let settings: &[(&str, &str)] = match stop {
            Stop::StatementTimeout => &[("statement_timeout", "300ms")],
            Stop::LockTimeout => &[("lock_timeout", "300ms")],
            Stop::Cancel | Stop::Terminate => &[],
        };
        let w = World::new(PgStore::from_pool(common::pool_on(&schema, 4, settings).await));
        let civilian = w.civilian().await;
        let request = w.hh.create_service_request(&civilian, request_input(), None).await.unwrap();
        let client = ClientId::generate(&RandomIds);
        let user = civilian.user_id().unwrap();
        let rename = ProfileInput { full_name: Some("Ada".into()), phone: None };
        let actions = [
            Action::ServiceRequest(RequestCommand { request_id: request.id, op: RequestOp::Cancel { reason: None } }),
            Action::UpdateProfile(UpdateProfile { user_id: user, input: rename }),
        ];
        let batch: Vec<Envelope> = actions
            .into_iter()
            .zip(1..)
            .map(|(action, seq)| Envelope {
                client_id: client,
                seq,
                action,
                created_at: w.clock.now(),
                depends_on: vec![],
            })
            .collect();

        // Another connection holds the request's row lock.
        let mut locker =
            PgConnection::connect_with(&common::pool_on(&schema, 1, &[]).await.connect_options()).await.unwrap();
        locker.execute("BEGIN").await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT 1 FROM service_requests WHERE id = '{}' FOR UPDATE",
            request.id.as_uuid()
        )))
        .execute(&mut locker)
        .await
        .unwrap();
        let locker_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut locker).await.unwrap();

        let task = {
            let (hh, civilian, batch) = (w.hh.clone(), civilian.clone(), batch.clone());
            tokio::spawn(async move { hh.apply_batch(&civilian, client, &batch).await })
        };
        if matches!(stop, Stop::Cancel | Stop::Terminate) {
            // Wait until the batch's statement waits on the lock, then stop that backend.
            let mut admin =
                PgConnection::connect_with(&common::pool_on(&schema, 1, &[]).await.connect_options()).await.unwrap();
            let blocked: i32 = loop {
                let found: Option<i32> = sqlx::query_scalar(
                    "SELECT pid FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid)) LIMIT 1",
                )
                .bind(locker_pid)
                .fetch_optional(&mut admin)
                .await
                .unwrap();
                if let Some(pid) = found {
                    break pid;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            };
            let function = match stop {
                Stop::Cancel => "pg_cancel_backend",
                _ => "pg_terminate_backend",
            };
            let done: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT {function}($1)")))
                .bind(blocked)
                .fetch_one(&mut admin)
                .await
                .unwrap();
            assert!(done, "{function} reached the batch's backend");
        }
        let answer = task.await.unwrap().unwrap();
        let codes: Vec<_> = answer
            .results
            .iter()
            .map(|r| match r {
                ActionResult::RetryLater { error, .. } => Some(error.code),
                _ => None,
            })
            .collect();
        assert_eq!(codes, [Some(ErrorCode::Unavailable), Some(ErrorCode::Unavailable)], "{stop:?}: {answer:?}");
        assert_eq!(answer.cursor.last_seq, 0, "{stop:?}");
        locker.execute("ROLLBACK").await.unwrap();

        // Nothing was recorded or changed.
        assert_eq!(w.store().client_cursor(client).await.unwrap(), None, "{stop:?}");
        assert!(w.store().client_actions(client, 1, 2).await.unwrap().is_empty());
        let still = w.store().service_request(request.id).await.unwrap().unwrap();
        assert_eq!((still.version, still.value.status.to_string()), (1, "pending".to_owned()));

        // Sent again once the lock is gone: both apply, once.
        let answer = w.hh.apply_batch(&civilian, client, &batch).await.unwrap();
        assert!(answer.results.iter().all(|r| matches!(r, ActionResult::Applied { .. })), "{stop:?}: {answer:?}");
        let cancelled = w.store().service_request(request.id).await.unwrap().unwrap();
        assert_eq!((cancelled.version, cancelled.value.status.to_string()), (2, "cancelled".to_owned()));
        let again = w.hh.apply_batch(&civilian, client, &batch).await.unwrap();
        assert!(again.results.iter().all(|r| matches!(r, ActionResult::Duplicate { .. })));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_statement_timeout_on_a_locked_row_is_retry_later() {
        locked_batch(Stop::StatementTimeout).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lock_timeout_is_retry_later() {
        locked_batch(Stop::LockTimeout).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_backend_is_retry_later() {
        locked_batch(Stop::Cancel).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_terminated_backend_is_retry_later() {
        locked_batch(Stop::Terminate).await;
    }
}

/// The maintenance reports' Postgres path (SQL kept in core, run through the adapter's generic
/// read-only hook) returns exactly what the pure functions compute over the same history, at
/// several instants of a history of 60 requests with every kind of transition.
#[tokio::test]
async fn maintenance_reports_sql_path_matches_the_pure_functions() {
    use hearth_core::actor::{Actor, Role};
    use hearth_core::id::{SequentialIds, TenantId};
    use hearth_core::maintenance::reports::{report, report_via_sql};
    use hearth_core::maintenance::{Maintenance, MaintenanceStore, SubmitRequest, Transition};
    use hearth_core::time::{Clock, ManualClock, Timestamp};
    use std::sync::Arc;

    let store = common::fresh().await;
    let t0 = Timestamp::parse_rfc3339("2026-06-01T08:00:00Z").unwrap();
    let clock = Arc::new(ManualClock::new(t0));
    let svc = Maintenance::new(store.clone(), clock.clone(), Arc::new(SequentialIds::with_prefix(77)));
    let hostel = TenantId::from_uuid(Uuid::from_u128(900));
    let admin = Actor::user(UserId::from_uuid(Uuid::from_u128(901)), [Role::Admin]).in_tenant(hostel);
    svc.install_default_categories(&admin).await.unwrap();
    let staff: Vec<Actor> = (0..3)
        .map(|i| Actor::user(UserId::from_uuid(Uuid::from_u128(910 + i)), [Role::MaintenanceStaff]).in_tenant(hostel))
        .collect();
    let kinds =
        [("plumber", "tap"), ("plumber", "drainage"), ("electricity", "fan"), ("wifi", "router"), ("other", "other")];
    for i in 0..60u32 {
        clock.set(t0.checked_add(chrono::Duration::minutes(i64::from(i) * 197)).unwrap());
        let resident = hearth_core::testing::residents::admitted_resident(&store, clock.now()).await.in_tenant(hostel);
        let (category, issue) = kinds[(i as usize * 7) % kinds.len()];
        let input = SubmitRequest {
            category: Some(category.into()),
            issue_type: Some(issue.into()),
            priority: Some(if i % 3 == 0 { "high" } else { "normal" }.into()),
            ..SubmitRequest::default()
        };
        let r = svc.submit(&resident, input).await.unwrap();
        let who = &staff[i as usize % 3];
        let later = |minutes: i64| clock.set(clock.now().checked_add(chrono::Duration::minutes(minutes)).unwrap());
        match i % 6 {
            0..=2 => {
                svc.claim(who, r.id).await.unwrap();
                later(i64::from(i) * 41 % 1900 + 1);
                svc.change(who, r.id, Transition::Resolve, None, None).await.unwrap();
            }
            3 => {
                svc.change(&admin, r.id, Transition::Reject, None, Some("not ours")).await.unwrap();
            }
            4 => {
                svc.claim(who, r.id).await.unwrap();
                later(30);
                svc.change(who, r.id, Transition::Start, None, None).await.unwrap();
            }
            _ => {}
        }
    }
    let data = store.report_data(hostel).await.unwrap();
    assert_eq!(data.requests.len(), 60);
    let run = |sql: String, params: Vec<Value>| {
        let store = store.clone();
        async move { store.read_only_query(&sql, &params).await }
    };
    for hours in [0, 5, 37, 100, 200, 400] {
        let as_of = t0.checked_add(chrono::Duration::hours(hours)).unwrap();
        let pure = report(&data, as_of);
        for i in 0..hearth_core::maintenance::reports::SQL_QUERIES.len() {
            let text = hearth_core::maintenance::reports::sql(i).unwrap();
            let params = hearth_core::maintenance::reports::sql_params(i, hostel, as_of);
            if let Err(e) = store.read_only_query(&text, &params).await {
                panic!("query {i}: {e:?}");
            }
        }
        let sql = report_via_sql(run, hostel, as_of).await.unwrap();
        assert_eq!(sql, pure, "as of {as_of}");
        if hours == 400 {
            assert_eq!(pure.resolution_by_category.iter().map(|r| r.resolved).sum::<u64>(), 30);
            assert_eq!(pure.resolution_by_staff.len(), 3);
            assert!(pure.breaches_by_week.iter().any(|w| w.breached > 0 && w.breached < w.requests));
        }
    }
    // The hook is read-only: a statement that writes fails and changes nothing.
    let Err(err) = store.read_only_query("DELETE FROM maintenance_comments", &[]).await else {
        panic!("a write through the read-only hook succeeded");
    };
    // SQLSTATE 25006, read_only_sql_transaction.
    assert!(matches!(&err, StoreError::Backend { message } if message.contains("read-only transaction")), "{err:?}");
}

/// The change feed's wake-up (issues 10, 11): after a commit that appends events, the store sends
/// `NOTIFY` on `FEED_CHANNEL` carrying its schema — a short payload whatever the events carry
/// (NOTIFY's 8,000-byte limit is never near; the events themselves are read from the feed), by
/// which a listener tells its own schema's wake-ups from other schemas' in the same database.
#[tokio::test]
async fn a_commit_with_events_notifies_its_schema() {
    let store = common::fresh().await;
    let mut listener = sqlx::postgres::PgListener::connect_with(store.pool()).await.unwrap();
    listener.listen(hearth_postgres::FEED_CHANNEL).await.unwrap();
    let user = UserId::from_uuid(Uuid::new_v4());
    let big = "x".repeat(20_000); // far beyond what NOTIFY could carry
    let events = |n: usize| -> ChangeSet {
        let events = (0..n)
            .map(|i| hearth_core::kernel::store::OutboxEvent {
                payload: serde_json::json!({ "big": big, "i": i }),
                ..hearth_core::testing::feed::event(i as u64, hearth_core::testing::fixtures::epoch(), user)
            })
            .collect();
        ChangeSet { events, ..ChangeSet::default() }
    };
    let schema: String = sqlx::query_scalar("SELECT current_schema()").fetch_one(store.pool()).await.unwrap();
    store.commit(events(3)).await.unwrap();
    // Other schemas' tests share the database's channel: wait for this store's schema.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let n = tokio::time::timeout_at(deadline, listener.recv()).await.expect("a notification").unwrap();
        assert!(n.payload().len() < 64, "the payload is a schema name: {}", n.payload());
        if n.payload() == schema {
            break;
        }
    }
}
