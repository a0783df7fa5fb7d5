//! What only the SQLite store has: its file, its migrations (including upgrading an old database),
//! its append-only triggers and its read views.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hearth_core::kernel::entity::EntityKind;
use hearth_core::kernel::query::Query;
use hearth_core::kernel::store::{Reader, Reads, Store};
use hearth_sqlite::{SqliteStore, MIGRATIONS, READERS_MAX, SCHEMA_VERSION};

fn rusqlite_conn(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

#[tokio::test]
async fn a_fresh_store_reports_the_embedded_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("hearth.db")).await.unwrap();
    assert_eq!(SCHEMA_VERSION, i64::try_from(MIGRATIONS.len()).unwrap());
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")).unwrap().count();
    assert_eq!(SCHEMA_VERSION, i64::try_from(files).unwrap(), "every migration file is listed");
    assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
}

#[tokio::test]
async fn reopening_keeps_data_and_does_not_migrate_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hearth.db");
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
    assert!(store.outbox_after(0, 10).await.unwrap().is_empty());
    drop(store);
    rusqlite_conn(&path)
        .execute(
            "INSERT INTO resident_rooms (user_id, room) VALUES ('00000000-0000-0000-0000-000000000001', 'A-1')",
            [],
        )
        .unwrap();
    let again = SqliteStore::open(&path).await.unwrap();
    assert_eq!(again.schema_version().await.unwrap(), SCHEMA_VERSION);
    let rooms = EntityKind::of_table("resident_rooms").expect("resident rooms are registered");
    assert_eq!(again.count_rows(&Query::kind(rooms)).await.unwrap(), 1);
    let mode: String = rusqlite_conn(&path).pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn a_database_newer_than_this_crate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hearth.db");
    drop(SqliteStore::open(&path).await.unwrap());
    rusqlite_conn(&path).pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    let err = SqliteStore::open(&path).await.unwrap_err();
    assert!(err.to_string().contains("newer"), "{err}");
}

#[tokio::test]
async fn audit_log_and_ledger_transfers_are_append_only_in_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hearth.db");
    let _store = SqliteStore::open(&path).await.unwrap();
    let conn = rusqlite_conn(&path);
    conn.execute(
        "INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, currency, kind, timeout_secs,
             linked, code, result, actor, created_at)
         VALUES ('x', 'a', 'a', 1, 'INR', 'single', 0, 0, 'adjustment', 'accounts_must_be_different', 'system', 0)",
        [],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO audit_log (id, entity_kind, entity_id, action, actor, after, version, at)
         VALUES ('y', 'homeheroes.profile', 'p', 'create', 'system', '{}', 1, 0)",
        [],
    )
    .unwrap();
    for sql in [
        "UPDATE ledger_transfers SET amount = 2",
        "DELETE FROM ledger_transfers",
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM audit_log",
    ] {
        let err = conn.execute(sql, []).expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_for_many_reads_sees_one_committed_state_and_gives_its_connection_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hearth.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let rooms = Query::kind(EntityKind::of_table("resident_rooms").unwrap());
    let view = store.snapshot(Reads::Many).await.unwrap();
    assert_eq!(view.count_rows(&rooms).await.unwrap(), 0);
    // Another connection commits while the view is open.
    rusqlite_conn(&path)
        .execute(
            "INSERT INTO resident_rooms (user_id, room) VALUES ('00000000-0000-0000-0000-000000000002', 'B-2')",
            [],
        )
        .unwrap();
    assert_eq!(store.count_rows(&rooms).await.unwrap(), 1, "the store sees the commit");
    assert_eq!(view.count_rows(&rooms).await.unwrap(), 0, "the view keeps its snapshot");
    assert_eq!(view.count_rows(&rooms).await.unwrap(), 0);
    drop(view);

    // A view created after the commit sees it; views never keep their connection once dropped.
    for _ in 0..(READERS_MAX * 3) {
        let view = store.snapshot(Reads::Many).await.unwrap();
        assert_eq!(view.count_rows(&rooms).await.unwrap(), 1);
    }
    let held: Vec<_> = {
        let mut v = Vec::new();
        for _ in 0..(READERS_MAX - 1) {
            v.push(store.snapshot(Reads::Many).await.unwrap());
        }
        v
    };
    assert_eq!(store.count_rows(&rooms).await.unwrap(), 1, "one reader connection is still free");
    drop(held);
    assert_eq!(store.count_rows(&rooms).await.unwrap(), 1);
}

#[tokio::test]
async fn a_view_for_one_read_refuses_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("hearth.db")).await.unwrap();
    let rooms = Query::kind(EntityKind::of_table("resident_rooms").unwrap());
    let view = store.snapshot(Reads::One).await.unwrap();
    assert_eq!(view.count_rows(&rooms).await.unwrap(), 0);
    assert!(view.count_rows(&rooms).await.is_err());
}

mod upgrade {
    //! A database written by the last release (migrations 0001–0008, the old column names and entity
    //! kinds) opens with this release and reads back through core's read traits.
    use super::*;
    use chrono::NaiveDate;
    use hearth_core::amenities::{AmenityBookingStatus as SeatStatus, AmenityStatus, AmenityStore};
    use hearth_core::canteen::{CanteenStore, OrderLine, OrderStatus, ResidentRoom};
    use hearth_core::homeheroes::model::{
        Category, DayWindow, InterestSource, InterestStatus, ProfileRole, RequestStatus, Weekday,
    };
    use hearth_core::homeheroes::HomeHeroesStore;
    use hearth_core::id::*;
    use hearth_core::kernel::entity::Entity;
    use hearth_core::kernel::entity::EntityRef;
    use hearth_core::kernel::store::{ChangeSet, Expect, Write};
    use hearth_core::khedma::{BookingStatus, JobRequestStatus, KhedmaStore, QuoteStatus};
    use hearth_core::ledger::model::{AccountId, AccountKind, TransferCode, TransferId, TransferKind, TransferResult};
    use hearth_core::ledger::LedgerStore;
    use hearth_core::money::{Currency, Money};
    use hearth_core::payments::gateway::{EventStatus, GatewayKind};
    use hearth_core::payments::{confirmation_id, ConfirmationOutcome, IntentStatus, PaymentStore, ReviewState};
    use hearth_core::rooms::{ReservationStatus, RoomStore};
    use hearth_core::time::Timestamp;
    use rust_decimal::Decimal;
    use uuid::Uuid;

    const T: i64 = 1_700_000_000_000_000;
    const HOUR: i64 = 3_600_000_000;

    fn u(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }
    fn s(n: u128) -> String {
        u(n).to_string()
    }
    fn ts(micros: i64) -> Timestamp {
        Timestamp::from_unix_micros(micros).unwrap()
    }
    fn inr(minor: i64) -> Money {
        Money::from_minor(minor, Currency::from_code("INR").unwrap())
    }

    // Ids.
    const CIVILIAN: u128 = 0xA1;
    const HERO: u128 = 0xA2;
    const HERO_PROFILE: u128 = 0xB1;
    const REQUEST: u128 = 0xC1;
    const INTEREST: u128 = 0xC2;
    const WALLET: u128 = 0xD1;
    const CLEARING: u128 = 0xD2;
    const TRANSFER: u128 = 0xD3;
    const INTENT: u128 = 0xE1;
    const AMENITY: u128 = 0xF1;
    const SLOT: u128 = 0xF2;
    const SEAT: u128 = 0xF3;
    const MENU_ITEM: u128 = 0x101;
    const ORDER: u128 = 0x102;
    const ROOM: u128 = 0x111;
    const RESERVATION: u128 = 0x112;
    const JOB: u128 = 0x121;
    const QUOTE: u128 = 0x122;
    const BOOKING: u128 = 0x123;
    const AUDIT: u128 = 0x131;
    const EVENT: u128 = 0x132;

    fn order_lines() -> String {
        serde_json::to_string(&vec![OrderLine {
            item_id: MenuItemId::from_uuid(u(MENU_ITEM)),
            name: "Veg Thali".into(),
            unit_price: inr(12050),
            quantity: 2,
        }])
        .unwrap()
    }

    /// Rows as the 0.1 adapter wrote them, with the columns of schema version 8.
    fn fill_old_database(conn: &rusqlite::Connection) {
        let sql = format!(
            "
            INSERT INTO profiles VALUES ('{civ}', 'civilian', 'Asha Civilian', '+919876543210', {T}, {T}, 1);
            INSERT INTO profiles VALUES ('{hero}', 'hero', 'Hari Hero', NULL, {T}, {T}, 3);
            INSERT INTO hero_profiles VALUES ('{hp}', '{hero}', '[\"plumbing\",\"painting\"]', '25.50', 'INR',
                '{{\"monday\":{{\"start_minute\":480,\"end_minute\":1020}}}}', 2, 9, 3, NULL, {T}, {T}, 2);
            INSERT INTO service_requests (id, civilian_id, hero_id, title, description, category, address, city, state,
                zip_code, latitude, longitude, scheduled_at, estimated_duration_hours, currency, budget_min_minor,
                budget_max_minor, status, cancel_reason, rating, created_at, updated_at, assigned_at, completed_at,
                cancelled_at, version)
                VALUES ('{req}', '{civ}', NULL, 'Fix the sink', 'The kitchen sink leaks badly', 'repairs', '1 Main St',
                'Pune', 'MH', '411001', 18.5, 73.75, {sched}, 2, 'INR', 50000, 150000, 'pending', NULL, NULL, {T}, {T},
                NULL, NULL, NULL, 2);
            INSERT INTO job_interest VALUES ('{int}', '{req}', '{hero}', 'app', 'interested', NULL, {T}, {T}, 1);
            INSERT INTO ledger_accounts VALUES ('{wallet}', '{civ}', 'wallet', 'INR', 1, 0, 0, 0, 0, 0, 0, 70000, {T}, 3);
            INSERT INTO ledger_accounts VALUES ('{clearing}', NULL, 'gateway_clearing', 'INR', 0, 0, 0, 0, 0, 70000, 0, 0, {T}, 2);
            INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, currency, kind, pending_id,
                timeout_secs, expires_at, linked, code, reference, result, actor, created_at)
                VALUES ('{tr}', '{clearing}', '{wallet}', 70000, 'INR', 'single', NULL, 0, NULL, 0, 'top_up', '{intent}',
                'ok', 'system', {T});
            INSERT INTO payment_intents (id, user_id, wallet_account_id, amount_minor, currency, gateway, status,
                provider_order_id, flags, review, transfer_id, created_at, updated_at, expires_at, version)
                VALUES ('{intent}', '{civ}', '{wallet}', 70000, 'INR', 'phonepe', 'succeeded', 'order-1',
                '[\"amount_anomaly\"]', 'approved', '{tr}', {T}, {T}, {expires}, 4);
            INSERT INTO payment_confirmations (gateway, provider_txn_id, intent_id, amount_minor, currency, status,
                outcome, transfer_id, received_at)
                VALUES ('phonepe', 'txn-1', '{intent}', 70000, 'INR', '\"succeeded\"', 'credited', '{tr}', {T});
            INSERT INTO amenities VALUES ('{am}', 'Gym', 360, 1320, 60, 10, 'Asia/Kolkata', 'active', {T}, {T}, 1);
            INSERT INTO amenity_slots VALUES ('{slot}', '{am}', '2025-03-01', {T}, {slot_end}, 10, 1, 2);
            INSERT INTO amenity_bookings VALUES ('{seat}', '{slot}', '{am}', '{civ}', 'booked', {T}, {T}, 1);
            INSERT INTO canteen_menu_items (id, date, name, price_minor, currency, available, created_at, updated_at, version)
                VALUES ('{item}', '2025-03-01', 'Veg Thali', 12050, 'INR', 1, {T}, {T}, 1);
            INSERT INTO canteen_orders (id, user_id, room, date, lines, total_minor, currency, status, refund, created_at,
                updated_at, version)
                VALUES ('{order}', '{civ}', 'B-204', '2025-03-01', '{lines}', 24100, 'INR', 'placed', NULL, {T}, {T}, 1);
            INSERT INTO resident_rooms VALUES ('{civ}', 'B-204');
            INSERT INTO rooms VALUES ('{room}', 'B-204', 3, 1, 2);
            INSERT INTO bed_reservations (id, room_id, user_id, status, lunchbox, charge_minor, currency, expires_at,
                created_at, updated_at, version)
                VALUES ('{res}', '{room}', '{civ}', 'held', 1, 15000, 'INR', {expires}, {T}, {T}, 1);
            INSERT INTO khedma_requests VALUES ('{job}', '{civ}', 'Paint the hall', 'Two coats please', 'booked', {T}, {T}, 2);
            INSERT INTO khedma_quotes (id, request_id, provider_id, amount_minor, currency, message, valid_until, status,
                created_at, updated_at, version)
                VALUES ('{quote}', '{job}', '{hero}', 300000, 'INR', 'Can do Monday', {expires}, 'accepted', {T}, {T}, 2);
            INSERT INTO khedma_bookings (id, request_id, quote_id, client_id, provider_id, amount_minor, currency, status,
                created_at, updated_at, version)
                VALUES ('{booking}', '{job}', '{quote}', '{civ}', '{hero}', 300000, 'INR', 'confirmed', {T}, {T}, 1);
            INSERT INTO audit_log (id, entity_kind, entity_id, action, actor, before, after, version, at)
                VALUES ('{audit}', 'service_request', '{req}', 'create', '{civ}', NULL, '{{\"title\":\"Fix the sink\"}}', 1, {T});
            INSERT INTO outbox (id, topic, entity_kind, entity_id, payload, audience, at)
                VALUES ('{event}', 'service_request.create', 'service_request', '{req}', '{{}}', '[\"{civ}\"]', {T});
            ",
            civ = s(CIVILIAN),
            hero = s(HERO),
            hp = s(HERO_PROFILE),
            req = s(REQUEST),
            int = s(INTEREST),
            wallet = s(WALLET),
            clearing = s(CLEARING),
            tr = s(TRANSFER),
            intent = s(INTENT),
            am = s(AMENITY),
            slot = s(SLOT),
            seat = s(SEAT),
            item = s(MENU_ITEM),
            order = s(ORDER),
            room = s(ROOM),
            res = s(RESERVATION),
            job = s(JOB),
            quote = s(QUOTE),
            booking = s(BOOKING),
            audit = s(AUDIT),
            event = s(EVENT),
            sched = T + 24 * HOUR,
            expires = T + HOUR / 4,
            slot_end = T + HOUR,
            lines = order_lines(),
        );
        conn.execute_batch(&sql).unwrap();
    }

    #[tokio::test]
    async fn a_version_8_database_upgrades_and_reads_back_through_core() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hearth.db");
        {
            let mut conn = rusqlite_conn(&path);
            conn.pragma_update(None, "foreign_keys", "ON").unwrap();
            hearth_sqlite::migrate_to(&mut conn, 8).unwrap();
            let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
            assert_eq!(version, 8);
            fill_old_database(&conn);
        }
        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
        let (civ, hero) = (UserId::from_uuid(u(CIVILIAN)), UserId::from_uuid(u(HERO)));

        // HomeHeroes.
        let p = store.profile(civ).await.unwrap().unwrap();
        assert_eq!((p.value.role, p.version), (ProfileRole::Civilian, 1));
        assert_eq!(p.value.full_name.as_deref(), Some("Asha Civilian"));
        assert_eq!(p.value.phone.as_deref(), Some("+919876543210"));
        assert_eq!((p.value.created_at, p.value.updated_at), (ts(T), ts(T)));
        assert_eq!(store.profile(hero).await.unwrap().unwrap().version, 3);
        let h = store.hero_profile(hero).await.unwrap().unwrap();
        assert_eq!(h.version, 2);
        assert_eq!(h.value.id, HeroProfileId::from_uuid(u(HERO_PROFILE)));
        assert_eq!(h.value.skills, ["plumbing", "painting"]);
        assert_eq!(h.value.hourly_rate, Some(inr(2550)));
        assert_eq!(
            h.value.availability.get(&Weekday::Monday),
            Some(&DayWindow { start_minute: 480, end_minute: 1020 })
        );
        assert_eq!((h.value.rating.count, h.value.rating.total, h.value.completed_jobs), (2, 9, 3));
        let r_request = store.service_request(ServiceRequestId::from_uuid(u(REQUEST))).await.unwrap().unwrap();
        let r = &r_request;
        assert_eq!(r.version, 2);
        assert_eq!((r.value.budget.min, r.value.budget.max), (inr(50000), inr(150000)));
        assert_eq!((r.value.civilian_id, r.value.hero_id), (civ, None));
        assert_eq!((r.value.category, r.value.status), (Category::Repairs, RequestStatus::Pending));
        assert_eq!((r.value.location.latitude, r.value.location.longitude), (18.5, 73.75));
        assert_eq!((r.value.scheduled_at, r.value.estimated_duration_hours), (ts(T + 24 * HOUR), 2));
        assert_eq!(r.value.title, "Fix the sink");
        let interests = store.interests(r.value.id).await.unwrap();
        assert_eq!(interests.len(), 1);
        let i = &interests[0].value;
        assert_eq!((i.id, i.hero_user_id, i.civilian_id), (JobInterestId::from_uuid(u(INTEREST)), hero, civ));
        assert_eq!((i.source, i.status), (InterestSource::App, InterestStatus::Interested));

        // Ledger.
        let accounts =
            store.ledger_accounts(&[AccountId::from_uuid(u(WALLET)), AccountId::from_uuid(u(CLEARING))]).await.unwrap();
        assert_eq!(accounts.len(), 2);
        let wallet = accounts.iter().find(|a| a.value.id == AccountId::from_uuid(u(WALLET))).unwrap();
        assert_eq!((wallet.value.owner, wallet.value.kind, wallet.version), (Some(civ), AccountKind::Wallet, 3));
        assert!(wallet.value.flags.debits_must_not_exceed_credits && !wallet.value.flags.frozen);
        assert_eq!(wallet.value.balance.credits_posted, 70000);
        let inr_code = Currency::from_code("INR").unwrap();
        let system = store.ledger_account_for(None, AccountKind::GatewayClearing, inr_code).await.unwrap().unwrap();
        assert_eq!(system.value.id, AccountId::from_uuid(u(CLEARING)));
        let transfers = store.ledger_transfers(&[TransferId::from_uuid(u(TRANSFER))]).await.unwrap();
        assert_eq!(transfers.len(), 1);
        let t = &transfers[0];
        assert_eq!(
            (t.amount, t.kind, t.code, t.result),
            (70000, TransferKind::Single, TransferCode::TopUp, TransferResult::Ok)
        );
        assert_eq!((t.debit_account_id, t.credit_account_id), (AccountId::from_uuid(u(CLEARING)), wallet.value.id));
        // The ledger migration's columns read back as their defaults: no flags, no user data, code 0
        // (an account hearth opened), open.
        assert_eq!((t.flags.bits(), t.user_data_128, t.user_data_64, t.user_data_32), (0, None, 0, 0));
        assert_eq!((wallet.value.code, wallet.value.closing_holds, wallet.value.flags.history), (0, 0, false));
        assert!(!wallet.value.is_closed());
        assert_eq!((t.linked, t.expires_at, t.pending_id), (false, None, None));
        assert_eq!(t.reference.as_deref(), Some(s(INTENT).as_str()));

        // Payments.
        let intent = store.payment_intent(PaymentIntentId::from_uuid(u(INTENT))).await.unwrap().unwrap();
        assert_eq!((intent.value.amount, intent.version), (inr(70000), 4));
        assert_eq!((intent.value.status, intent.value.review), (IntentStatus::Succeeded, Some(ReviewState::Approved)));
        assert_eq!(intent.value.flags.len(), 1);
        assert_eq!(intent.value.transfer_id, Some(TransferId::from_uuid(u(TRANSFER))));
        assert_eq!(intent.value.expires_at, ts(T + HOUR / 4));
        let c = store.payment_confirmation(GatewayKind::parse("phonepe").unwrap(), "txn-1").await.unwrap().unwrap();
        assert_eq!((c.status, c.outcome), (EventStatus::Succeeded, ConfirmationOutcome::Credited));
        assert_eq!((c.amount_minor, c.currency, c.intent_id), (70000, Some(inr_code), Some(intent.value.id)));
        let id: String = rusqlite_conn(&path)
            .query_row("SELECT id FROM payment_confirmations WHERE provider_txn_id = 'txn-1'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(id, confirmation_id(c.gateway, "txn-1").to_string(), "0010 keys existing confirmations");

        // Amenities.
        let a = store.amenity(AmenityId::from_uuid(u(AMENITY))).await.unwrap().unwrap();
        assert_eq!(
            (a.value.name.as_str(), a.value.status, a.value.template.capacity),
            ("Gym", AmenityStatus::Active, 10)
        );
        let slot = store.slot(SlotId::from_uuid(u(SLOT))).await.unwrap().unwrap();
        assert_eq!(
            (slot.value.date, slot.value.booked, slot.version),
            (NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(), 1, 2)
        );
        assert_eq!((slot.value.starts_at, slot.value.ends_at), (ts(T), ts(T + HOUR)));
        let seat = store.live_booking(slot.value.id, civ).await.unwrap().unwrap();
        assert_eq!((seat.value.id, seat.value.status), (AmenityBookingId::from_uuid(u(SEAT)), SeatStatus::Booked));
        assert_eq!(store.count_live_bookings(slot.value.id).await.unwrap(), 1);

        // Canteen.
        let item = store.menu_item(MenuItemId::from_uuid(u(MENU_ITEM))).await.unwrap().unwrap();
        assert_eq!((item.value.price, item.value.available), (inr(12050), true));
        let order = store.order(OrderId::from_uuid(u(ORDER))).await.unwrap().unwrap();
        assert_eq!(
            (order.value.total, order.value.status, order.value.refund),
            (inr(24100), OrderStatus::Placed, None)
        );
        assert_eq!(order.value.lines.len(), 1);
        assert_eq!((order.value.lines[0].unit_price, order.value.lines[0].quantity), (inr(12050), 2));
        let room = store.assigned_room(civ).await.unwrap().unwrap();
        assert_eq!((room.value.room.as_str(), room.version), ("B-204", 1), "resident rooms gained a version");

        // Rooms.
        let r = store.room(RoomId::from_uuid(u(ROOM))).await.unwrap().unwrap();
        assert_eq!((r.value.number.as_str(), r.value.beds, r.value.reserved, r.version), ("B-204", 3, 1, 2));
        let res = store.live_reservation(civ).await.unwrap().unwrap();
        assert_eq!(
            (res.value.id, res.value.status),
            (ReservationId::from_uuid(u(RESERVATION)), ReservationStatus::Held)
        );
        assert_eq!((res.value.lunchbox, res.value.additional_charge), (true, inr(15000)));

        // Khedma.
        let job = store.job_request(JobRequestId::from_uuid(u(JOB))).await.unwrap().unwrap();
        assert_eq!((job.value.status, job.version), (JobRequestStatus::Booked, 2));
        let quotes = store.quotes_for(job.value.id).await.unwrap();
        assert_eq!(quotes.len(), 1);
        assert_eq!((quotes[0].value.amount, quotes[0].value.status), (inr(300000), QuoteStatus::Accepted));
        assert_eq!(quotes[0].value.id, QuoteId::from_uuid(u(QUOTE)));
        let booking = store.booking(BookingId::from_uuid(u(BOOKING))).await.unwrap().unwrap();
        assert_eq!((booking.value.amount, booking.value.status), (inr(300000), BookingStatus::Confirmed));
        assert_eq!((booking.value.client_id, booking.value.provider_id), (civ, hero));

        // Audit records and events written under the old entity kinds.
        let kind = EntityKind::of_table("service_requests").unwrap();
        let trail = store.audit_trail(EntityRef { kind, id: u(REQUEST) }).await.unwrap();
        assert_eq!(trail.len(), 1);
        assert_eq!((trail[0].entity.kind, trail[0].action.as_str(), trail[0].version), (kind, "create", 1));
        assert_eq!(trail[0].entity.kind.as_str(), "homeheroes.service_request");
        assert_eq!(trail[0].after, serde_json::json!({"title": "Fix the sink"}));
        let events = store.outbox_after(0, 10).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].1.entity, EntityRef { kind, id: u(REQUEST) });
        assert_eq!(events[0].1.audience, [civ]);

        // Upgraded rows take versioned writes at the versions they had.
        let mut moved = room.value.clone();
        moved.room = "C-301".into();
        let mut cheaper = r_request.value.clone();
        cheaper.budget.min = Money::new(Decimal::new(45000, 2), inr_code).unwrap();
        let changes = ChangeSet {
            writes: vec![
                Write::Row {
                    kind: ResidentRoom::kind(),
                    id: civ.as_uuid(),
                    row: moved.to_row(),
                    expect: Expect::Version(1),
                },
                Write::Row { kind, id: u(REQUEST), row: cheaper.to_row(), expect: Expect::Version(2) },
            ],
            ..ChangeSet::default()
        };
        store.commit(changes).await.unwrap();
        let room = store.assigned_room(civ).await.unwrap().unwrap();
        assert_eq!((room.value.room.as_str(), room.version), ("C-301", 2));
        let again = store.service_request(cheaper.id).await.unwrap().unwrap();
        assert_eq!((again.value, again.version), (cheaper, 3));
    }

    #[tokio::test]
    async fn an_unknown_stored_entity_kind_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hearth.db");
        let store = SqliteStore::open(&path).await.unwrap();
        rusqlite_conn(&path)
            .execute(
                "INSERT INTO outbox (id, topic, entity_kind, entity_id, payload, audience, at)
                 VALUES (?1, 'x.create', 'no_such_kind', ?1, '{}', '[]', 0)",
                [s(EVENT)],
            )
            .unwrap();
        let err = store.outbox_after(0, 10).await.unwrap_err();
        assert!(matches!(err, hearth_core::kernel::store::StoreError::Corrupt { .. }), "{err:?}");
    }
}

/// Issue 15 §1: another connection holds the database's write lock past the busy timeout
/// (SQLITE_BUSY): the batch answers `retry_later` with `unavailable` for every action, records
/// nothing, and applies exactly once when sent again. Replicache's push rule
/// (https://doc.replicache.dev/reference/server-push, "Error handling"): "If a temporary error …
/// the server should halt processing … without marking the mutation processed".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_write_lock_is_retry_later_and_records_nothing() {
    use hearth_core::homeheroes::commands::{RequestCommand, RequestOp, UpdateProfile};
    use hearth_core::homeheroes::input::ProfileInput;
    use hearth_core::homeheroes::HomeHeroesStore;
    use hearth_core::id::ClientId;
    use hearth_core::offline::{Action, ActionResult, Envelope};
    use hearth_core::system::RandomIds;
    use hearth_core::testing::fixtures::{request_input, World};
    use hearth_core::time::Clock;
    use hearth_core::ErrorCode;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hearth.db");
    let w = World::new(SqliteStore::open(&path).await.unwrap());
    let civilian = w.civilian().await;
    let request = w.hh.create_service_request(&civilian, request_input(), None).await.unwrap();
    let client = ClientId::generate(&RandomIds);
    let rename = ProfileInput { full_name: Some("Ada".into()), phone: None };
    let actions = [
        Action::ServiceRequest(RequestCommand { request_id: request.id, op: RequestOp::Cancel { reason: None } }),
        Action::UpdateProfile(UpdateProfile { user_id: civilian.user_id().unwrap(), input: rename }),
    ];
    let batch: Vec<Envelope> = actions
        .into_iter()
        .zip(1..)
        .map(|(action, seq)| Envelope { client_id: client, seq, action, created_at: w.clock.now(), depends_on: vec![] })
        .collect();

    // Another connection on the same file takes the write lock and keeps it.
    let locker = rusqlite_conn(&path);
    locker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let answer = w.hh.apply_batch(&civilian, client, &batch).await.unwrap();
    let codes: Vec<_> = answer
        .results
        .iter()
        .map(|r| match r {
            ActionResult::RetryLater { error, .. } => Some(error.code),
            _ => None,
        })
        .collect();
    assert_eq!(codes, [Some(ErrorCode::Unavailable), Some(ErrorCode::Unavailable)], "{answer:?}");
    assert_eq!(answer.cursor.last_seq, 0);
    locker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(w.store().client_cursor(client).await.unwrap(), None);
    let still = w.store().service_request(request.id).await.unwrap().unwrap();
    assert_eq!((still.version, still.value.status.to_string()), (1, "pending".to_owned()));

    let answer = w.hh.apply_batch(&civilian, client, &batch).await.unwrap();
    assert!(answer.results.iter().all(|r| matches!(r, ActionResult::Applied { .. })), "{answer:?}");
    let again = w.hh.apply_batch(&civilian, client, &batch).await.unwrap();
    assert!(again.results.iter().all(|r| matches!(r, ActionResult::Duplicate { .. })));
    let cancelled = w.store().service_request(request.id).await.unwrap().unwrap();
    assert_eq!((cancelled.version, cancelled.value.status.to_string()), (2, "cancelled".to_owned()));
}

/// Group commit (issue 11): 64 change sets committed at once from 64 tasks share write transactions,
/// and each still gets its own answer. Every odd one carries a fresh event and then the id of an
/// event already stored, so it fails on `outbox.id`: it gets its own error and leaves nothing —
/// its fresh event was rolled back with its savepoint — while every even one commits whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_fails_a_change_set_alone_and_keeps_the_others() {
    use hearth_core::kernel::store::ChangeSet;
    use hearth_core::testing::feed::event;
    use hearth_core::testing::fixtures::epoch;
    const TASKS: u64 = 64;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("hearth.db")).await.unwrap();
    let user = hearth_core::id::UserId::generate(&hearth_core::system::RandomIds);
    let taken = event(0, epoch(), user);
    store.commit(ChangeSet { events: vec![taken.clone()], ..ChangeSet::default() }).await.unwrap();
    let before = store.commit_stats();
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(TASKS as usize));
    let tasks: Vec<_> = (1..=TASKS)
        .map(|n| {
            let (store, start, taken) = (store.clone(), start.clone(), taken.clone());
            tokio::spawn(async move {
                let mut events = vec![event(n, epoch(), user)];
                if n % 2 == 1 {
                    events.push(taken);
                }
                start.wait().await;
                store.commit(ChangeSet { events, ..ChangeSet::default() }).await
            })
        })
        .collect();
    for (n, t) in (1..=TASKS).zip(tasks) {
        let answer = t.await.unwrap();
        if n % 2 == 0 {
            answer.unwrap_or_else(|e| panic!("change set {n}: {e:?}"));
        } else {
            let e = answer.expect_err("a change set reusing an event id");
            assert!(
                matches!(&e, hearth_core::kernel::StoreError::Constraint { name } if name.contains("outbox")),
                "change set {n}: {e:?}"
            );
        }
    }
    let stored: Vec<u128> =
        store.outbox_after(0, 1_000).await.unwrap().into_iter().map(|(_, e)| e.entity.id.as_u128()).collect();
    let mut expected: Vec<u128> = (0..=TASKS).filter(|n| n % 2 == 0).map(u128::from).collect();
    let mut got = stored.clone();
    got.sort_unstable();
    expected.sort_unstable();
    assert_eq!(got, expected, "every even change set and nothing of an odd one");
    let after = store.commit_stats();
    assert_eq!(after.commits - before.commits, TASKS / 2);
    assert!(after.transactions - before.transactions <= after.commits - before.commits);
}
