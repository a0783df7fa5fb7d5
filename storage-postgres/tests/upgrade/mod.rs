//! The upgrade path: a database at schema version 9 (before the kernel), filled in the old shape,
//! migrated to the latest version and read back through core's read traits.

use crate::common;
use hearth_core::amenities::AmenityStore;
use hearth_core::canteen::CanteenStore;
use hearth_core::homeheroes::model::ServiceRequest;
use hearth_core::homeheroes::HomeHeroesStore;
use hearth_core::id::{
    AmenityBookingId, AmenityId, BookingId, JobRequestId, MenuItemId, OrderId, ReservationId, RoomId, ServiceRequestId,
    SlotId, UserId,
};
use hearth_core::kernel::store::Reader;
use hearth_core::kernel::{Entity, EntityRef};
use hearth_core::khedma::KhedmaStore;
use hearth_core::ledger::model::{AccountId, TransferId};
use hearth_core::ledger::LedgerStore;
use hearth_core::payments::gateway::GatewayKind;
use hearth_core::payments::{PaymentIntentId, PaymentStore};
use hearth_core::rooms::RoomStore;
use hearth_postgres::{latest_schema_version, PgStore, MIGRATOR};
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPool;
use uuid::Uuid;

/// The schema version before the kernel.
const BEFORE_KERNEL: usize = 9;

/// Fixed ids, one per seeded row (`u(n)`).
fn u(n: u128) -> Uuid {
    Uuid::from_u128(n)
}
const CIVILIAN: u128 = 1;
const HERO: u128 = 2;
const REQUEST: u128 = 3;
const INTEREST: u128 = 4;
const CLEARING: u128 = 10;
const WALLET: u128 = 11;
const TRANSFER: u128 = 12;
const INTENT: u128 = 13;
const AMENITY: u128 = 20;
const SLOT: u128 = 21;
const SEAT: u128 = 22;
const DISH: u128 = 30;
const ORDER: u128 = 31;
const ROOM: u128 = 40;
const RESERVATION: u128 = 41;
const JOB: u128 = 50;
const QUOTE: u128 = 51;
const BOOKING: u128 = 52;
const AUDIT: u128 = 60;

async fn run(pool: &PgPool, statements: &[String]) {
    for sql in statements {
        sqlx::query(sqlx::AssertSqlSafe(sql.clone())).execute(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

async fn seed_homeheroes(pool: &PgPool) {
    let (civ, hero, req, int) = (u(CIVILIAN), u(HERO), u(REQUEST), u(INTEREST));
    run(pool, &[
        format!("INSERT INTO profiles VALUES ('{civ}', 'civilian', 'Asha Rao', NULL, '2025-01-01T10:00:00Z', '2025-01-01T10:00:00Z', 1)"),
        format!("INSERT INTO profiles VALUES ('{hero}', 'hero', 'Ravi K', '+919800000000', '2025-01-01T10:00:00Z', '2025-01-01T10:00:00Z', 1)"),
        format!(
            "INSERT INTO service_requests (id, civilian_id, hero_id, title, description, category, address, city, state,
                 zip_code, latitude, longitude, scheduled_at, estimated_duration_hours, currency, budget_min, budget_max,
                 status, cancel_reason, rating, created_at, updated_at, assigned_at, completed_at, cancelled_at, version)
             VALUES ('{req}', '{civ}', NULL, 'Fix the tap', 'The kitchen tap drips all night', 'repairs', '1 Main St',
                 'Pune', 'MH', '411001', 18.5, 73.8, '2025-01-03T10:00:00Z', 2, 'INR', 500.000, 900.000, 'pending',
                 NULL, NULL, '2025-01-01T11:00:00Z', '2025-01-01T11:00:00Z', NULL, NULL, NULL, 1)"
        ),
        // The old shape: no civilian_id.
        format!(
            "INSERT INTO job_interest (id, job_id, hero_user_id, source, status, phone, created_at, updated_at, version)
             VALUES ('{int}', '{req}', '{hero}', 'app', 'interested', NULL, '2025-01-01T12:00:00Z', '2025-01-01T12:00:00Z', 1)"
        ),
        // An audit record under the kind's OLD wire name.
        format!(
            "INSERT INTO audit_log (id, entity_kind, entity_id, action, actor, before, after, version, at)
             VALUES ('{}', 'service_request', '{req}', 'create', '{civ}', NULL, '{{\"title\": \"Fix the tap\"}}', 1,
                 '2025-01-01T11:00:00Z')",
            u(AUDIT)
        ),
    ])
    .await;
}

async fn seed_money(pool: &PgPool) {
    let (civ, clearing, wallet, transfer, intent) = (u(CIVILIAN), u(CLEARING), u(WALLET), u(TRANSFER), u(INTENT));
    run(pool, &[
        format!(
            "INSERT INTO ledger_accounts VALUES ('{clearing}', NULL, 'gateway_clearing', 'INR', false, false, false, false,
                 0, 1000, 0, 0, '2025-01-01T10:00:00Z', 2)"
        ),
        format!(
            "INSERT INTO ledger_accounts VALUES ('{wallet}', '{civ}', 'wallet', 'INR', true, false, false, false,
                 0, 0, 0, 1000, '2025-01-01T10:00:00Z', 2)"
        ),
        // The old shape: no seq.
        format!(
            "INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, currency, kind, pending_id,
                 timeout_secs, expires_at, linked, code, reference, result, actor, created_at)
             VALUES ('{transfer}', '{clearing}', '{wallet}', 1000, 'INR', 'single', NULL, 0, NULL, false, 'top_up',
                 'intent', 'ok', 'system', '2025-01-01T13:00:00Z')"
        ),
        format!(
            "INSERT INTO payment_intents VALUES ('{intent}', '{civ}', '{wallet}', 10.000, 'INR', 'phonepe', 'succeeded',
                 'ORD-1', '{{}}', NULL, '{transfer}', '2025-01-01T12:30:00Z', '2025-01-01T13:00:00Z',
                 '2025-01-01T13:30:00Z', 2)"
        ),
        // The old shape: no id.
        format!(
            "INSERT INTO payment_confirmations VALUES ('phonepe', 'TXN-1', '{intent}', 1000, 'INR', 'succeeded', 'credited',
                 '{transfer}', '2025-01-01T13:00:00Z')"
        ),
    ])
    .await;
}

async fn seed_residence(pool: &PgPool) {
    let civ = u(CIVILIAN);
    let (amenity, slot, seat, dish, order, room, reservation) =
        (u(AMENITY), u(SLOT), u(SEAT), u(DISH), u(ORDER), u(ROOM), u(RESERVATION));
    let lines = format!(
        r#"[{{"item_id": "{dish}", "name": "Dal", "unit_price": {{"amount": "50.00", "currency": "INR"}}, "quantity": 2}}]"#
    );
    run(pool, &[
        format!(
            "INSERT INTO amenities VALUES ('{amenity}', 'Gym', 360, 1320, 60, 10, 'Asia/Kolkata', 'active',
                 '2025-01-01T10:00:00Z', '2025-01-01T10:00:00Z', 1)"
        ),
        format!(
            "INSERT INTO amenity_slots VALUES ('{slot}', '{amenity}', '2025-01-02', '2025-01-02T01:30:00Z',
                 '2025-01-02T02:30:00Z', 10, 1, 2)"
        ),
        format!(
            "INSERT INTO amenity_bookings VALUES ('{seat}', '{slot}', '{amenity}', '{civ}', 'booked',
                 '2025-01-01T14:00:00Z', '2025-01-01T14:00:00Z', 1)"
        ),
        format!(
            "INSERT INTO canteen_menu_items VALUES ('{dish}', '2025-01-02', 'Dal', 50.000, 'INR', true,
                 '2025-01-01T10:00:00Z', '2025-01-01T10:00:00Z', 1)"
        ),
        format!(
            "INSERT INTO canteen_orders VALUES ('{order}', '{civ}', 'B-204', '2025-01-02', '{lines}', 100.000, 'INR', 'placed',
                 NULL, '2025-01-01T15:00:00Z', '2025-01-01T15:00:00Z', 1)"
        ),
        // The old shape: no version.
        format!("INSERT INTO resident_rooms VALUES ('{civ}', 'B-204')"),
        format!("INSERT INTO rooms VALUES ('{room}', 'B-204', 2, 1, 2)"),
        format!(
            "INSERT INTO bed_reservations VALUES ('{reservation}', '{room}', '{civ}', 'held', false, 0, 'INR',
                 '2025-01-05T00:00:00Z', '2025-01-01T16:00:00Z', '2025-01-01T16:00:00Z', 1)"
        ),
    ])
    .await;
}

async fn seed_khedma(pool: &PgPool) {
    let (civ, hero, job, quote, booking) = (u(CIVILIAN), u(HERO), u(JOB), u(QUOTE), u(BOOKING));
    run(
        pool,
        &[
            format!(
                "INSERT INTO khedma_requests VALUES ('{job}', '{civ}', 'Paint the hall', 'Two coats, white', 'booked',
                 '2025-01-01T10:00:00Z', '2025-01-01T11:00:00Z', 2)"
            ),
            format!(
                "INSERT INTO khedma_quotes VALUES ('{quote}', '{job}', '{hero}', 2500.000, 'INR', 'By Friday',
                 '2025-01-10T00:00:00Z', 'accepted', '2025-01-01T10:30:00Z', '2025-01-01T11:00:00Z', 2)"
            ),
            format!(
            "INSERT INTO khedma_bookings VALUES ('{booking}', '{job}', '{quote}', '{civ}', '{hero}', 2500.000, 'INR',
                 'confirmed', '2025-01-01T11:00:00Z', '2025-01-01T11:00:00Z', 1)"
        ),
        ],
    )
    .await;
}

/// A schema migrated to version 9 only, filled in the old shape.
async fn version_9_store() -> PgStore {
    let pool = common::empty_schema().await;
    let old = Migrator::with_migrations(MIGRATOR.iter().take(BEFORE_KERNEL).cloned().collect());
    old.run(&pool).await.unwrap();
    seed_homeheroes(&pool).await;
    seed_money(&pool).await;
    seed_residence(&pool).await;
    seed_khedma(&pool).await;
    let store = PgStore::from_pool(pool);
    assert_eq!(store.schema_version().await.unwrap(), BEFORE_KERNEL as i64);
    store
}

async fn read_homeheroes(store: &PgStore) {
    let (civ, hero) = (UserId::from_uuid(u(CIVILIAN)), UserId::from_uuid(u(HERO)));
    let profile = store.profile(civ).await.unwrap().unwrap();
    assert_eq!((profile.value.full_name.as_deref(), profile.version), (Some("Asha Rao"), 1));
    assert_eq!(store.profile(hero).await.unwrap().unwrap().value.phone.as_deref(), Some("+919800000000"));
    let request = store.service_request(ServiceRequestId::from_uuid(u(REQUEST))).await.unwrap().unwrap();
    assert_eq!((request.value.title.as_str(), request.value.civilian_id), ("Fix the tap", civ));
    assert_eq!(request.value.budget.min.to_minor(), Some(50_000));
    let interests = store.interests(ServiceRequestId::from_uuid(u(REQUEST))).await.unwrap();
    assert_eq!(interests.len(), 1);
    assert_eq!(interests[0].value.civilian_id, civ, "backfilled from the request");
    assert_eq!((interests[0].value.hero_user_id, interests[0].version), (hero, 1));
    // The old-kind record belongs to the new kind's trail.
    let trail = store.audit_trail(EntityRef { kind: ServiceRequest::kind(), id: u(REQUEST) }).await.unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!((trail[0].entity.kind, trail[0].action.as_str()), (ServiceRequest::kind(), "create"));
}

async fn read_money(store: &PgStore) {
    let wallet = AccountId::from_uuid(u(WALLET));
    let accounts = store.ledger_accounts(&[wallet, AccountId::from_uuid(u(CLEARING))]).await.unwrap();
    assert_eq!(accounts.len(), 2);
    let w = accounts.iter().find(|a| a.value.id == wallet).unwrap();
    assert_eq!((w.value.balance.credits_posted, w.version), (1000, 2));
    let transfers = store.ledger_transfers(&[TransferId::from_uuid(u(TRANSFER))]).await.unwrap();
    assert_eq!(transfers.len(), 1);
    assert_eq!((transfers[0].amount, transfers[0].credit_account_id), (1000, wallet));
    // The ledger migration's columns read back as their defaults.
    let t = &transfers[0];
    assert_eq!((t.flags.bits(), t.user_data_128, t.user_data_64, t.user_data_32), (0, None, 0, 0));
    assert_eq!((w.value.code, w.value.closing_holds, w.value.flags.history), (0, 0, false));
    assert_eq!(store.account_transfers(wallet, 10).await.unwrap().len(), 1);
    let intent = store.payment_intent(PaymentIntentId::from_uuid(u(INTENT))).await.unwrap().unwrap();
    assert_eq!((intent.value.amount.to_minor(), intent.version), (Some(1000), 2));
    let confirmation = store.payment_confirmation(GatewayKind::PhonePe, "TXN-1").await.unwrap().unwrap();
    assert_eq!(confirmation.amount_minor, 1000);
    assert_eq!(confirmation.transfer_id, Some(TransferId::from_uuid(u(TRANSFER))));
}

async fn read_residence(store: &PgStore) {
    let civ = UserId::from_uuid(u(CIVILIAN));
    let amenity = store.amenity(AmenityId::from_uuid(u(AMENITY))).await.unwrap().unwrap();
    assert_eq!((amenity.value.name.as_str(), amenity.value.template.slot_minutes), ("Gym", 60));
    let slot = store.slot(SlotId::from_uuid(u(SLOT))).await.unwrap().unwrap();
    assert_eq!((slot.value.booked, slot.version), (1, 2));
    let seat = store.amenity_booking(AmenityBookingId::from_uuid(u(SEAT))).await.unwrap().unwrap();
    assert_eq!(seat.value.user_id, civ);
    assert_eq!(store.count_live_bookings(SlotId::from_uuid(u(SLOT))).await.unwrap(), 1);
    let dish = store.menu_item(MenuItemId::from_uuid(u(DISH))).await.unwrap().unwrap();
    assert_eq!(dish.value.price.to_minor(), Some(5000));
    let order = store.order(OrderId::from_uuid(u(ORDER))).await.unwrap().unwrap();
    assert_eq!((order.value.total.to_minor(), order.value.lines.len()), (Some(10_000), 1));
    let assigned = store.assigned_room(civ).await.unwrap().unwrap();
    assert_eq!((assigned.value.room.as_str(), assigned.version), ("B-204", 1), "resident rooms start at version 1");
    assert_eq!(store.resident_room(civ).await.unwrap().as_deref(), Some("B-204"));
    let room = store.room(RoomId::from_uuid(u(ROOM))).await.unwrap().unwrap();
    assert_eq!((room.value.reserved, room.version), (1, 2));
    let reservation = store.reservation(ReservationId::from_uuid(u(RESERVATION))).await.unwrap().unwrap();
    assert_eq!(reservation.value.room_id, RoomId::from_uuid(u(ROOM)));
    assert!(store.live_reservation(civ).await.unwrap().is_some());
}

async fn read_khedma(store: &PgStore) {
    let job = JobRequestId::from_uuid(u(JOB));
    let request = store.job_request(job).await.unwrap().unwrap();
    assert_eq!((request.value.title.as_str(), request.version), ("Paint the hall", 2));
    let quotes = store.quotes_for(job).await.unwrap();
    assert_eq!(quotes.len(), 1);
    assert_eq!(quotes[0].value.amount.to_minor(), Some(250_000));
    let booking = store.booking(BookingId::from_uuid(u(BOOKING))).await.unwrap().unwrap();
    assert_eq!(
        (booking.value.provider_id, booking.value.amount.to_minor()),
        (UserId::from_uuid(u(HERO)), Some(250_000))
    );
}

#[tokio::test]
async fn a_version_9_database_upgrades_and_reads_back() {
    let store = version_9_store().await;
    store.migrate().await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), latest_schema_version());
    read_homeheroes(&store).await;
    read_money(&store).await;
    read_residence(&store).await;
    read_khedma(&store).await;
}
