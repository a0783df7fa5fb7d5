//! Khedma conformance tests: the same on every store.

use super::fixtures::refused;
use crate::actor::{Actor, Role};
use crate::error::ErrorCode;
use crate::id::UserId;
use crate::kernel::store::Store;
use crate::khedma::{BookingAction, BookingStatus, JobRequestStatus, Khedma, KhedmaStore, QuoteStatus};
use crate::system::RandomIds;
use crate::time::ManualClock;
use rust_decimal::Decimal;
use std::sync::Arc;

fn client() -> Actor {
    Actor::user(UserId::generate(&RandomIds), [Role::Client])
}
fn provider() -> Actor {
    Actor::user(UserId::generate(&RandomIds), [Role::Provider])
}

fn market<S: Store + Clone + 'static>(store: S) -> (Khedma<S>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(super::fixtures::epoch()));
    (Khedma::new(store, clock.clone(), Arc::new(RandomIds)), clock)
}

pub async fn khedma_accepting_a_quote_settles_every_quote_in_one_commit<S: Store + Clone + 'static>(store: S) {
    let (k, clock) = market(store);
    let salma = client();
    let pros = [provider(), provider(), provider()];
    let req = k.post_request(&salma, "Fix a leaking pipe", "Under the kitchen sink, since yesterday.").await.unwrap();
    let mut quotes = Vec::new();
    for (i, p) in pros.iter().enumerate() {
        quotes.push(
            k.quote(p, req.id, Decimal::new(25_000 + i as i64 * 5_000, 2), "Can come tomorrow", 7).await.unwrap(),
        );
    }
    refused(k.runner().store(), ErrorCode::Conflict, k.quote(&pros[0], req.id, Decimal::new(100, 0), "again", 7)).await;
    refused(k.runner().store(), ErrorCode::Forbidden, k.quote(&salma, req.id, Decimal::new(100, 0), "me", 7)).await;
    let err =
        refused(k.runner().store(), ErrorCode::Validation, k.quote(&pros[0], req.id, Decimal::new(-1, 0), "", 90))
            .await;
    let fields: Vec<_> = err.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["amount", "message", "valid_days"]);
    // A provider sees their own quote; the client sees all.
    assert_eq!(k.quotes(&pros[1], req.id).await.unwrap().len(), 1);
    assert_eq!(k.quotes(&salma, req.id).await.unwrap().len(), 3);
    refused(k.runner().store(), ErrorCode::NotFound, k.accept(&pros[0], req.id, quotes[0].id)).await;
    let booking = k.accept(&salma, req.id, quotes[1].id).await.unwrap();
    assert_eq!(
        (booking.status, booking.provider_id, booking.amount.to_minor()),
        (BookingStatus::Pending, pros[1].user_id().unwrap(), Some(30_000))
    );
    let statuses: Vec<QuoteStatus> = k.quotes(&salma, req.id).await.unwrap().into_iter().map(|q| q.status).collect();
    assert_eq!(statuses, [QuoteStatus::Declined, QuoteStatus::Accepted, QuoteStatus::Declined]);
    let stored = k.runner().store().job_request(req.id).await.unwrap().unwrap().value;
    assert_eq!(stored.status, JobRequestStatus::Booked);
    // The request is taken: accepting another quote is `conflict`, exactly as for a racing loser.
    refused(k.runner().store(), ErrorCode::Conflict, k.accept(&salma, req.id, quotes[0].id)).await;
    refused(k.runner().store(), ErrorCode::PreconditionFailed, k.quote(&provider(), req.id, Decimal::ONE, "late", 1))
        .await;
    // A quote is valid for `valid_days` days: accepted one second before it lapses; at exactly its
    // `valid_until` (and after) it is expired and cannot be accepted.
    let req2 = k.post_request(&salma, "Paint the hallway", "Two coats, white.").await.unwrap();
    let q = k.quote(&pros[2], req2.id, Decimal::new(800, 0), "Two days of work", 1).await.unwrap();
    assert_eq!(q.valid_until, q.created_at.checked_add(chrono::Duration::days(1)).unwrap());
    clock.set(q.valid_until);
    refused(k.runner().store(), ErrorCode::PreconditionFailed, k.accept(&salma, req2.id, q.id)).await;
    clock.advance(chrono::Duration::seconds(1));
    refused(k.runner().store(), ErrorCode::PreconditionFailed, k.accept(&salma, req2.id, q.id)).await;
    let req3 = k.post_request(&salma, "Hang three shelves", "Living room, concrete wall.").await.unwrap();
    let q3 = k.quote(&pros[2], req3.id, Decimal::new(150, 0), "Tomorrow", 1).await.unwrap();
    clock.set(q3.valid_until.checked_sub(chrono::Duration::seconds(1)).unwrap());
    assert_eq!(k.accept(&salma, req3.id, q3.id).await.unwrap().quote_id, q3.id);

    refused(
        k.runner().store(),
        ErrorCode::Forbidden,
        k.post_request(&pros[0], "I need help", "A provider is not a client"),
    )
    .await;
}

pub async fn khedma_racing_accepts_make_exactly_one_booking<S: Store + Clone + 'static>(store: S) {
    let (k, _) = market(store);
    let k = Arc::new(k);
    let omar = client();
    let req = k.post_request(&omar, "Assemble a wardrobe", "Flat-pack, three doors.").await.unwrap();
    let mut quotes = Vec::new();
    for _ in 0..4 {
        quotes.push(k.quote(&provider(), req.id, Decimal::new(300, 0), "Same day", 3).await.unwrap());
    }
    const RACERS: usize = 8;
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let (k, who, q, barrier) = (k.clone(), omar.clone(), quotes[i % quotes.len()].id, barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                k.accept(&who, req.id, q).await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(b) => winners.push(b),
            // One load is one snapshot: a loser is told "already taken", whichever attempt it lost on.
            Err(e) => assert_eq!(e.code, ErrorCode::Conflict, "{e:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    let store = k.runner().store();
    let bookings = store.bookings_for(req.id).await.unwrap();
    assert_eq!(bookings.len(), 1, "exactly one booking");
    assert_eq!(bookings[0].value, winners[0]);
    let settled = k.quotes(&omar, req.id).await.unwrap();
    assert_eq!(settled.len(), quotes.len());
    let accepted: Vec<_> = settled.iter().filter(|q| q.status == QuoteStatus::Accepted).map(|q| q.id).collect();
    assert_eq!(accepted, [winners[0].quote_id], "exactly one accepted quote: the booked one");
    let declined = settled.iter().filter(|q| q.status == QuoteStatus::Declined).count();
    assert_eq!(declined, quotes.len() - 1, "every other quote declined: {settled:?}");
    assert_eq!(store.job_request(req.id).await.unwrap().unwrap().value.status, JobRequestStatus::Booked);
    let topic = "khedma.booking.create";
    let created: Vec<_> = store
        .outbox_after(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, e)| e.topic == topic)
        .map(|(_, e)| e.entity.id)
        .collect();
    assert_eq!(created, [winners[0].id.as_uuid()], "exactly one `{topic}` event: the winner's");
}

pub async fn khedma_bookings_follow_their_workflow_and_stay_private<S: Store + Clone + 'static>(store: S) {
    let (k, _) = market(store);
    let (nadia, pro) = (client(), provider());
    let book = |title: &'static str| {
        let (k, nadia, pro) = (&k, nadia.clone(), pro.clone());
        async move {
            let r = k.post_request(&nadia, title, "Details here.").await.unwrap();
            let q = k.quote(&pro, r.id, Decimal::new(500, 0), "OK", 5).await.unwrap();
            k.accept(&nadia, r.id, q.id).await.unwrap()
        }
    };
    let b = book("Repair the boiler").await;
    refused(k.runner().store(), ErrorCode::Forbidden, k.act(&nadia, b.id, BookingAction::Confirm)).await;
    let stranger = client();
    assert_eq!(k.booking(&stranger, b.id).await.unwrap_err().code, ErrorCode::NotFound);
    refused(k.runner().store(), ErrorCode::NotFound, k.act(&stranger, b.id, BookingAction::Cancel)).await;
    for (action, status) in [
        (BookingAction::Confirm, BookingStatus::Confirmed),
        (BookingAction::Start, BookingStatus::InProgress),
        (BookingAction::Complete, BookingStatus::Completed),
    ] {
        assert_eq!(k.act(&pro, b.id, action).await.unwrap().status, status);
    }
    refused(k.runner().store(), ErrorCode::InvalidTransition, k.act(&nadia, b.id, BookingAction::Cancel)).await;
    let c = book("Clean the windows").await;
    assert_eq!(k.act(&nadia, c.id, BookingAction::Cancel).await.unwrap().status, BookingStatus::Cancelled);
    let d = book("Move a sofa").await;
    assert_eq!(k.act(&pro, d.id, BookingAction::Decline).await.unwrap().status, BookingStatus::Declined);
    assert_eq!(k.booking(&nadia, d.id).await.unwrap().status, BookingStatus::Declined);
}

crate::conformance_cases!("khedma";
    khedma_accepting_a_quote_settles_every_quote_in_one_commit,
    khedma_racing_accepts_make_exactly_one_booking,
    khedma_bookings_follow_their_workflow_and_stay_private
);
