//! Viramah residents conformance tests (the same on every store) and fixtures other domains' tests
//! use: a resident who passed the KYC gate, and one who did not.

use crate::actor::{Actor, Role};
use crate::error::ErrorCode;
use crate::id::UserId;
use crate::kernel::store::Store;
use crate::residents::{require_kyc, ResidentRole, ResidentStanding, ResidentStore, Residents, SubmissionStatus};
use crate::service::Decide;
use crate::system::RandomIds;
use crate::time::{ManualClock, Timestamp};
use std::sync::Arc;

/// A resident who passed the KYC gate (approved submission, `kyc_complete`, role `resident`),
/// written straight into `store` at `now` as the approval's commit leaves it.
pub async fn admitted_resident<S: Store + ?Sized>(store: &S, now: Timestamp) -> Actor {
    let user = UserId::generate(&RandomIds);
    let standing = ResidentStanding {
        role: ResidentRole::Resident,
        onboarding_complete: true,
        kyc_complete: true,
        submission: Some(SubmissionStatus::Approved),
        ..ResidentStanding::signed_up(user, now)
    };
    let mut cx = Decide::new(now, &RandomIds, &Actor::System);
    cx.insert(standing).expect("standing");
    store.commit(cx.into_changes()).await.expect("admit resident");
    Actor::user(user, [Role::Resident])
}

/// A signed-up resident whose onboarding is not approved (fails the KYC gate).
pub async fn pending_resident<S: Store + Clone + 'static>(store: &S) -> Actor {
    let clock = Arc::new(ManualClock::new(super::fixtures::epoch()));
    let residents = Residents::new(store.clone(), clock, Arc::new(RandomIds));
    let actor = Actor::user(UserId::generate(&RandomIds), [Role::PendingResident]);
    residents.sign_up(&actor).await.expect("sign up");
    actor
}

pub async fn residents_the_kyc_gate_reads_one_standing<S: Store + Clone + 'static>(store: S) {
    let pending = pending_resident(&store).await;
    let admitted = admitted_resident(&store, super::fixtures::epoch()).await;
    let mine = |a: &Actor| a.user_id().unwrap();
    let p = store.resident_standing(mine(&pending)).await.unwrap().unwrap().value;
    assert_eq!(
        (p.role, p.onboarding_complete, p.kyc_complete, p.submission),
        (ResidentRole::PendingResident, false, false, None)
    );
    assert_eq!(require_kyc(&pending, Some(&p)).unwrap_err().code, ErrorCode::KycIncomplete);
    let a = store.resident_standing(mine(&admitted)).await.unwrap().unwrap().value;
    assert!(require_kyc(&admitted, Some(&a)).is_ok());
    assert_eq!(require_kyc(&pending, Some(&a)).unwrap_err().code, ErrorCode::KycIncomplete, "another's standing");
    // Signing up again changes nothing; only pending residents sign up.
    let before = super::digest(&store).await;
    let clock = Arc::new(ManualClock::new(super::fixtures::epoch()));
    let residents = Residents::new(store.clone(), clock, Arc::new(RandomIds));
    assert_eq!(residents.sign_up(&pending).await.unwrap(), p);
    let staff = Actor::user(UserId::generate(&RandomIds), [Role::CanteenStaff]);
    assert_eq!(residents.sign_up(&staff).await.unwrap_err().code, ErrorCode::Forbidden);
    assert_eq!(residents.standing(&staff, mine(&pending)).await.unwrap_err().code, ErrorCode::NotFound);
    assert_eq!(super::digest(&store).await, before);
}

fn inquiry(email: &str, phone: &str, ip: &str) -> crate::residents::SubmitInquiry {
    crate::residents::SubmitInquiry {
        name: Some("Priya Sharma".into()),
        email: Some(email.into()),
        phone: Some(phone.into()),
        message: Some("Looking for a single room from July.".into()),
        ip: Some(ip.into()),
        device_fingerprint: None,
    }
}

fn residents<S: Store + Clone + 'static>(store: S) -> (Residents<S>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(super::fixtures::epoch()));
    (Residents::new(store, clock.clone(), Arc::new(RandomIds)), clock)
}

pub async fn residents_a_duplicate_inquiry_answers_like_a_fresh_one<S: Store + Clone + 'static>(store: S) {
    let (r, clock) = residents(store.clone());
    let fresh =
        r.inquire(&Actor::Anonymous, inquiry("  Priya.S@Example.com ", "98765 43210", "10.0.0.1")).await.unwrap();
    // Seed 002 §4 step 4: "If either the email or phone already exists → return a 200 OK with a
    // `duplicate: true` flag (do not expose that the record exists for privacy)".
    let same_email =
        r.inquire(&Actor::Anonymous, inquiry("priya.s@example.com", "99887 76655", "10.0.0.2")).await.unwrap();
    let same_phone =
        r.inquire(&Actor::Anonymous, inquiry("other@example.com", "+91 98765-43210", "10.0.0.3")).await.unwrap();
    let as_json = |x: &crate::residents::InquiryReceipt| serde_json::to_value(x).unwrap();
    assert_eq!(as_json(&fresh), serde_json::json!({"received": true, "duplicate": false}));
    for dup in [same_email, same_phone] {
        assert_eq!(as_json(&dup), serde_json::json!({"received": true, "duplicate": true}), "same fields, no id");
    }
    let sales = Actor::user(UserId::generate(&RandomIds), [Role::SalesAgent]);
    let rows = r.inquiries(&sales, 10).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].email.as_str(), rows[0].phone.as_str()), ("priya.s@example.com", "+919876543210"));
    // Only sales agents and admins read inquiries.
    for role in
        [Role::Resident, Role::PendingResident, Role::MaintenanceStaff, Role::CanteenStaff, Role::AmenityManager]
    {
        let who = Actor::user(UserId::generate(&RandomIds), [role]);
        assert_eq!(r.inquiries(&who, 10).await.unwrap_err().code, ErrorCode::Forbidden, "{role}");
    }
    assert_eq!(r.inquiries(&Actor::Anonymous, 10).await.unwrap_err().code, ErrorCode::Unauthenticated);
    let admin = Actor::user(UserId::generate(&RandomIds), [Role::Admin]);
    assert_eq!(r.inquiries(&admin, 10).await.unwrap().len(), 1);
    // Bad input: every field error at once, nothing written.
    let before = super::digest(&store).await;
    let bad = r.inquire(&Actor::Anonymous, inquiry("nope", "+12", "not-an-ip")).await.unwrap_err();
    let fields: Vec<_> = bad.fields.iter().map(|f| (f.field.as_str(), f.violation.code())).collect();
    assert_eq!(fields, [("email", "invalid_format"), ("phone", "invalid_format"), ("ip", "invalid_format")]);
    assert_eq!(super::digest(&store).await, before);
    // Three attempts per IP per hour (§14 E), duplicates included; the fourth writes nothing.
    let ip = "192.0.2.7";
    for k in 0..3 {
        r.inquire(&Actor::Anonymous, inquiry(&format!("p{k}@example.com"), &format!("9876500{k:03}"), ip))
            .await
            .unwrap();
    }
    let before = super::digest(&store).await;
    let limited = r.inquire(&Actor::Anonymous, inquiry("p9@example.com", "9876500999", ip)).await.unwrap_err();
    assert_eq!(limited.code, ErrorCode::RateLimited);
    assert_eq!(super::digest(&store).await, before);
    clock.advance(chrono::Duration::minutes(61));
    assert!(!r.inquire(&Actor::Anonymous, inquiry("p9@example.com", "9876500999", ip)).await.unwrap().duplicate);
}

pub async fn residents_a_known_device_bypasses_the_gate<S: Store + Clone + 'static>(store: S) {
    let (r, _) = residents(store);
    let hash = "ab".repeat(32);
    assert!(!r.device_known(&hash).await.unwrap());
    let mut input = inquiry("dev@example.com", "9876512345", "10.1.1.1");
    input.device_fingerprint = Some(hash.to_uppercase());
    r.inquire(&Actor::Anonymous, input).await.unwrap();
    assert!(r.device_known(&hash).await.unwrap(), "seen once: the gate is bypassed");
    assert_eq!(r.device_known("not-a-hash").await.unwrap_err().code, ErrorCode::Validation);
}

pub async fn residents_racing_inquiries_with_one_email_make_one_row<S: Store + Clone + 'static>(store: S) {
    const RACERS: usize = 16;
    let (r, _) = residents(store);
    let r = Arc::new(r);
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|k| {
            let (r, b) = (r.clone(), barrier.clone());
            tokio::spawn(async move {
                b.wait().await;
                // Same email (differently typed), different phones and IPs.
                let email = if k % 2 == 0 { "Race@Example.com" } else { " race@example.com" };
                r.inquire(&Actor::Anonymous, inquiry(email, &format!("98100{k:05}"), &format!("10.9.0.{k}"))).await
            })
        })
        .collect();
    let mut fresh = 0;
    for t in tasks {
        if !t.await.unwrap().unwrap().duplicate {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 1, "exactly one racer's inquiry is recorded; the rest are told `duplicate`");
    let store = r.runner().store();
    let admin = Actor::user(UserId::generate(&RandomIds), [Role::Admin]);
    let rows = r.inquiries(&admin, 100).await.unwrap();
    assert_eq!(rows.len(), 1);
    use crate::kernel::query::Query;
    use crate::kernel::store::ReadExt;
    use crate::residents::inquiry::{InquiryAttempt, InquiryKey};
    let keys = store.find::<InquiryKey>(Query::of::<InquiryKey>()).await.unwrap();
    assert_eq!(keys.len(), 2, "one email key and one phone key");
    assert!(keys.iter().all(|k| k.value.inquiry_id == rows[0].id));
    let attempts = store.find::<InquiryAttempt>(Query::of::<InquiryAttempt>()).await.unwrap();
    assert_eq!(attempts.len(), RACERS);
    assert_eq!(attempts.iter().filter(|a| !a.value.duplicate).count(), 1);
    // Every attempt, the inquiry and its two keys: one audited create event each.
    assert_eq!(store.outbox_after(0, 1_000).await.unwrap().len(), RACERS + 3);
}

crate::conformance_cases!("residents";
    residents_the_kyc_gate_reads_one_standing,
    residents_a_duplicate_inquiry_answers_like_a_fresh_one,
    residents_a_known_device_bypasses_the_gate,
    residents_racing_inquiries_with_one_email_make_one_row
);
