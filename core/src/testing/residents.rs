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

/// A user holding `role` in the store, granted by the system (as a deployment's setup does; every
/// later grant is a super admin's). The actor also claims it, as a host building it from the store
/// would ([`Residents::actor`]).
pub async fn staff<S: Store + Clone + 'static>(store: &S, role: Role) -> Actor {
    let clock = Arc::new(ManualClock::new(super::fixtures::epoch()));
    let residents = Residents::new(store.clone(), clock, Arc::new(RandomIds));
    let user = UserId::generate(&RandomIds);
    residents.grant_role(&Actor::System, user, role).await.expect("grant a staff role");
    Actor::user(user, [role])
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
    // Signing up again changes nothing; a staff account (a stored staff role) does not sign up.
    let staff = staff(&store, Role::CanteenStaff).await;
    let before = super::digest(&store).await;
    let clock = Arc::new(ManualClock::new(super::fixtures::epoch()));
    let residents = Residents::new(store.clone(), clock, Arc::new(RandomIds));
    assert_eq!(residents.sign_up(&pending).await.unwrap(), p);
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
    let sales = staff(&store, Role::SalesAgent).await;
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
    let admin = staff(&store, Role::Admin).await;
    assert_eq!(r.inquiries(&admin, 10).await.unwrap().len(), 1);
    // A claim the store does not back reads nothing (§14 B: claims are verified against the database).
    let claimed = Actor::user(UserId::generate(&RandomIds), [Role::SalesAgent, Role::Admin]);
    assert_eq!(r.inquiries(&claimed, 10).await.unwrap_err().code, ErrorCode::Forbidden);
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
    // GCRA (`crate::limits::INQUIRIES`): one place back every 20 minutes.
    assert_eq!((limited.code, limited.retry_after_ms), (ErrorCode::RateLimited, Some(20 * 60 * 1_000)));
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
    let rows = r.inquiries(&Actor::System, 100).await.unwrap();
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

/// A store that, while armed, sabotages every commit mid-way: it appends to the change set a second
/// insert of its first written row, so the store has applied the earlier writes inside its
/// transaction when the last one fails and everything rolls back.
#[derive(Clone)]
pub struct FailingCommits<S> {
    inner: S,
    armed: Arc<std::sync::atomic::AtomicBool>,
}

impl<S> FailingCommits<S> {
    pub fn new(inner: S) -> Self {
        Self { inner, armed: Arc::new(std::sync::atomic::AtomicBool::new(false)) }
    }
    pub fn arm(&self, on: bool) {
        self.armed.store(on, std::sync::atomic::Ordering::SeqCst);
    }
}

use crate::kernel::entity::{Entity, EntityKind, EntityRef};
use crate::kernel::query::Query as Q;
use crate::kernel::store::{
    AuditRecord, ChangeSet, ClientActionRecord, ClientCursor, Expect, IdempotencyRecord, OutboxEvent, Reader, Reads,
    StoreResult, StoredRow, Write,
};

#[async_trait::async_trait]
impl<S: Store> Reader for FailingCommits<S> {
    async fn get_row(&self, kind: EntityKind, id: uuid::Uuid) -> StoreResult<Option<StoredRow>> {
        self.inner.get_row(kind, id).await
    }
    async fn query_rows(&self, query: &Q) -> StoreResult<Vec<StoredRow>> {
        self.inner.query_rows(query).await
    }
    async fn count_rows(&self, query: &Q) -> StoreResult<u64> {
        self.inner.count_rows(query).await
    }
    async fn get_with_parent(
        &self,
        kind: EntityKind,
        id: uuid::Uuid,
        via: &'static str,
        parent: EntityKind,
    ) -> StoreResult<Option<(StoredRow, Option<StoredRow>)>> {
        self.inner.get_with_parent(kind, id, via, parent).await
    }
    async fn idempotency_record(&self, scope: &str, key: &str) -> StoreResult<Option<IdempotencyRecord>> {
        self.inner.idempotency_record(scope, key).await
    }
    async fn audit_trail(&self, entity: EntityRef) -> StoreResult<Vec<AuditRecord>> {
        self.inner.audit_trail(entity).await
    }
    async fn outbox_after(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, OutboxEvent)>> {
        self.inner.outbox_after(after, limit).await
    }
    async fn client_cursor(&self, client_id: crate::id::ClientId) -> StoreResult<Option<ClientCursor>> {
        self.inner.client_cursor(client_id).await
    }
    async fn client_actions(
        &self,
        client_id: crate::id::ClientId,
        from: u64,
        to: u64,
    ) -> StoreResult<Vec<ClientActionRecord>> {
        self.inner.client_actions(client_id, from, to).await
    }
}

crate::delegate_job_queue!([S: Store] FailingCommits<S>, inner);

#[async_trait::async_trait]
impl<S: Store> Store for FailingCommits<S> {
    async fn commit(&self, mut changes: ChangeSet) -> StoreResult<()> {
        if self.armed.load(std::sync::atomic::Ordering::SeqCst) {
            let first = changes.writes.iter().find_map(|w| match w {
                Write::Row { kind, id, row, expect: Expect::Absent } => {
                    Some(Write::Row { kind: *kind, id: *id, row: row.clone(), expect: Expect::Absent })
                }
                _ => None,
            });
            changes.writes.extend(first);
        }
        self.inner.commit(changes).await
    }
    async fn snapshot(&self, reads: Reads) -> StoreResult<Box<dyn Reader + '_>> {
        self.inner.snapshot(reads).await
    }
    fn enforces_backstops(&self) -> bool {
        self.inner.enforces_backstops()
    }
}

fn step(k: i64) -> crate::residents::StepInput {
    let mut s = crate::residents::StepInput::default();
    match k {
        1 => {
            s.full_name = Some("Priya Sharma".into());
            s.id_document_path = Some("kyc-private/priya/aadhaar-front.jpg".into());
        }
        2 => {
            s.guardian_name = Some("Anil Sharma".into());
            s.guardian_phone = Some("098765 43210".into());
            s.guardian_relation = Some("parent".into());
            s.guardian_document_path = Some("kyc-private/priya/guardian-id.pdf".into());
        }
        _ => {
            s.diet = Some("veg".into());
            s.notes = Some("Early riser".into());
        }
    }
    s
}

/// An applicant with a held bed (lunchbox) and all four steps saved, over `store`.
async fn onboarded<S: Store + Clone + 'static>(
    store: S,
) -> (Residents<S>, crate::rooms::Rooms<S>, Actor, crate::rooms::BedReservation) {
    let clock = Arc::new(ManualClock::new(super::fixtures::epoch()));
    let r = Residents::new(store.clone(), clock.clone(), Arc::new(RandomIds));
    let rooms = crate::rooms::Rooms::new(store.clone(), clock, Arc::new(RandomIds));
    let admin = Actor::user(UserId::generate(&RandomIds), [Role::Admin]);
    // UUIDv7's leading digits are the clock: the number takes the random tail.
    let tag = UserId::generate(&RandomIds).to_string();
    let room = rooms.add_room(&admin, &format!("V-{}", &tag[tag.len() - 8..]), 2).await.unwrap();
    let me = Actor::user(UserId::generate(&RandomIds), [Role::PendingResident]);
    r.sign_up(&me).await.unwrap();
    let bed = rooms.reserve(&me, room.id, true).await.unwrap();
    for k in 1..=4 {
        let mut data = step(k);
        if k == 3 {
            data.reservation_id = Some(bed.id);
        }
        r.save_draft(&me, k, data).await.unwrap();
    }
    (r, rooms, me, bed)
}

pub async fn residents_onboarding_submits_in_one_commit_or_not_at_all<S: Store + Clone + 'static>(store: S) {
    let failing = FailingCommits::new(store.clone());
    let (r, _rooms, me, bed) = onboarded(failing.clone()).await;
    let user = me.user_id().unwrap();
    assert_eq!(bed.additional_charge, crate::rooms::LUNCHBOX_CHARGE);
    let standing = store.resident_standing(user).await.unwrap().unwrap().value;
    assert_eq!(standing.last_completed_step, 4);
    // Each step is validated on save; a document URL is refused (§5: "Storage paths … never public
    // URLs"); nothing is written.
    let before = super::digest(&store).await;
    let mut bad = step(1);
    bad.id_document_path = Some("https://cdn.example.com/aadhaar.jpg".into());
    let e = r.save_draft(&me, 1, bad).await.unwrap_err();
    assert_eq!(
        (e.code, e.fields[0].field.as_str(), e.fields[0].violation.code()),
        (ErrorCode::Validation, "id_document_path", "invalid_format")
    );
    assert_eq!(r.save_draft(&me, 7, step(1)).await.unwrap_err().fields[0].field, "step");
    assert_eq!(super::digest(&store).await, before);
    // Resumable: saving a step again replaces its draft.
    let mut again = step(1);
    again.full_name = Some("Priya S. Sharma".into());
    use crate::residents::onboarding::OnboardingDraft;
    let d = r.save_draft(&me, 1, again).await.unwrap();
    use crate::kernel::store::ReadExt;
    assert_eq!(store.get::<OnboardingDraft>(d.id).await.unwrap().unwrap().version, 2);
    // §5 "If any step fails → full rollback, user sees an error and can retry": the commit fails
    // after its earlier writes were applied; nothing is left, and the retry succeeds.
    let before = super::digest(&store).await;
    failing.arm(true);
    assert_eq!(r.submit(&me).await.unwrap_err().code, ErrorCode::Conflict);
    assert_eq!(super::digest(&store).await, before);
    failing.arm(false);
    let sub = r.submit(&me).await.unwrap();
    assert_eq!((sub.status, sub.attempt), (SubmissionStatus::PendingReview, 1));
    let st = store.resident_standing(user).await.unwrap().unwrap().value;
    assert_eq!(
        (st.onboarding_complete, st.submission, st.role),
        (true, Some(SubmissionStatus::PendingReview), ResidentRole::PendingResident)
    );
    let profile = store.resident_profile(user).await.unwrap().unwrap().value;
    assert_eq!((profile.full_name.as_str(), profile.guardian_phone.as_str()), ("Priya S. Sharma", "+919876543210"));
    assert_eq!((profile.lunchbox, profile.additional_charge), (true, crate::rooms::LUNCHBOX_CHARGE));
    use crate::notifications::{NotificationStore, Recipient};
    let notes = store.notifications_about(sub.entity_ref()).await.unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!((notes[0].recipient, notes[0].kind.as_str()), (Recipient::Role(Role::Admin), "onboarding.submitted"));
    // Pending review: drafts and submissions are frozen.
    assert_eq!(r.submit(&me).await.unwrap_err().code, ErrorCode::InvalidTransition);
    assert_eq!(r.save_draft(&me, 4, step(4)).await.unwrap_err().code, ErrorCode::InvalidTransition);
}

use crate::residents::{OnboardingStore, ReviewAction};

pub async fn residents_sixteen_admins_claim_one_submission_and_one_wins<S: Store + Clone + 'static>(store: S) {
    const ADMINS: usize = 16;
    let (r, _, me, _) = onboarded(store.clone()).await;
    let sub = r.submit(&me).await.unwrap();
    let r = Arc::new(r);
    let barrier = Arc::new(tokio::sync::Barrier::new(ADMINS));
    let mut admins = Vec::new();
    for _ in 0..ADMINS {
        admins.push(staff(&store, Role::Admin).await);
    }
    let tasks: Vec<_> = admins
        .into_iter()
        .map(|admin| {
            let (r, b) = (r.clone(), barrier.clone());
            tokio::spawn(async move {
                b.wait().await;
                (admin.user_id().unwrap(), r.review(&admin, sub.id, ReviewAction::Claim, None, &[]).await)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let (who, res) = t.await.unwrap();
        match res {
            Ok(s) => winners.push((who, s)),
            Err(e) => assert_eq!(e.code, ErrorCode::Conflict, "{e:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    let (winner, claimed) = &winners[0];
    let stored = store.submission(sub.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.value.status, stored.value.reviewer, stored.version),
        (SubmissionStatus::UnderReview, Some(*winner), 2)
    );
    assert_eq!(&stored.value, claimed);
    let trail = store.audit_trail(sub.entity_ref()).await.unwrap();
    assert_eq!(trail.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(), ["create", "claim"]);
    assert_eq!(trail[1].actor, winner.to_string());
}

pub async fn residents_approval_revision_and_rejection_follow_the_table<S: Store + Clone + 'static>(store: S) {
    let (r, _, me, bed) = onboarded(store.clone()).await;
    let user = me.user_id().unwrap();
    let (ana, raj) = (staff(&store, Role::Admin).await, staff(&store, Role::SuperAdmin).await);
    let sub = r.submit(&me).await.unwrap();
    // The applicant sees their own submission but never reviews it (Viramah §6: the admin claims).
    assert_eq!(r.review(&me, sub.id, ReviewAction::Claim, None, &[]).await.unwrap_err().code, ErrorCode::Forbidden);
    r.review(&ana, sub.id, ReviewAction::Claim, None, &[]).await.unwrap();
    // Only the claiming admin decides.
    let before = super::digest(&store).await;
    assert_eq!(r.review(&raj, sub.id, ReviewAction::Approve, None, &[]).await.unwrap_err().code, ErrorCode::Forbidden);
    let bad = r.review(&ana, sub.id, ReviewAction::RequestRevision, None, &["shoe_size"]).await.unwrap_err();
    assert_eq!(bad.fields[0].field, "flagged_fields[0]");
    assert_eq!(super::digest(&store).await, before);
    // Needs revision: only the flagged fields may change.
    let s = r.review(&ana, sub.id, ReviewAction::RequestRevision, None, &["diet"]).await.unwrap();
    assert_eq!((s.status, s.flagged_fields.clone()), (SubmissionStatus::NeedsRevision, vec!["diet".to_owned()]));
    let mut renamed = step(1);
    renamed.full_name = Some("Someone Else".into());
    r.save_draft(&me, 1, renamed).await.unwrap();
    let before = super::digest(&store).await;
    let e = r.submit(&me).await.unwrap_err();
    assert_eq!(
        (e.code, e.fields[0].field.as_str(), e.fields[0].violation.code()),
        (ErrorCode::Validation, "full_name", "not_allowed")
    );
    assert_eq!(super::digest(&store).await, before);
    r.save_draft(&me, 1, step(1)).await.unwrap();
    let mut vegan = step(4);
    vegan.diet = Some("vegan".into());
    r.save_draft(&me, 4, vegan).await.unwrap();
    let s = r.submit(&me).await.unwrap();
    assert_eq!((s.status, s.attempt), (SubmissionStatus::PendingReview, 2));
    // Rejected (with a reason): the resident is told why and may submit again.
    r.review(&raj, sub.id, ReviewAction::Claim, None, &[]).await.unwrap();
    assert_eq!(r.review(&raj, sub.id, ReviewAction::Reject, None, &[]).await.unwrap_err().fields[0].field, "reason");
    let s = r.review(&raj, sub.id, ReviewAction::Reject, Some("The ID photo is unreadable."), &[]).await.unwrap();
    assert_eq!((s.status, s.reason.as_deref()), (SubmissionStatus::Rejected, Some("The ID photo is unreadable.")));
    let s = r.submit(&me).await.unwrap();
    assert_eq!((s.status, s.attempt, s.reason.clone()), (SubmissionStatus::PendingReview, 3, None));
    // Approved: role → resident, kyc_complete, the bed confirmed, the welcome — one commit.
    r.review(&ana, sub.id, ReviewAction::Claim, None, &[]).await.unwrap();
    let events_before = store.outbox_after(0, 10_000).await.unwrap().len();
    let s = r.review(&ana, sub.id, ReviewAction::Approve, None, &[]).await.unwrap();
    assert_eq!(s.status, SubmissionStatus::Approved);
    let st = store.resident_standing(user).await.unwrap().unwrap().value;
    assert_eq!(
        (st.role, st.kyc_complete, st.submission),
        (ResidentRole::Resident, true, Some(SubmissionStatus::Approved))
    );
    let resident = Actor::user(user, [Role::Resident]);
    assert!(require_kyc(&resident, Some(&st)).is_ok());
    use crate::rooms::RoomStore;
    assert_eq!(
        store.reservation(bed.id).await.unwrap().unwrap().value.status,
        crate::rooms::ReservationStatus::Confirmed
    );
    use crate::notifications::NotificationStore;
    let mine = store.notifications_for(user, &[], false, 10).await.unwrap();
    assert_eq!(
        mine.iter().map(|n| n.kind.as_str()).collect::<Vec<_>>(),
        ["onboarding.approved", "onboarding.rejected", "onboarding.needs_revision"]
    );
    // submission, standing, reservation, delivery room, welcome: five audited writes, one event each.
    assert_eq!(store.outbox_after(0, 10_000).await.unwrap().len() - events_before, 5);
    assert_eq!(
        r.review(&ana, sub.id, ReviewAction::Reject, Some("changed my mind"), &[]).await.unwrap_err().code,
        ErrorCode::InvalidTransition
    );
    let trail = store.audit_trail(sub.entity_ref()).await.unwrap();
    let actions: Vec<_> = trail.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(
        actions,
        ["create", "claim", "request_revision", "resubmit", "claim", "reject", "resubmit", "claim", "approve"]
    );
}

crate::conformance_cases!("residents";
    residents_the_kyc_gate_reads_one_standing,
    residents_a_duplicate_inquiry_answers_like_a_fresh_one,
    residents_a_known_device_bypasses_the_gate,
    residents_racing_inquiries_with_one_email_make_one_row,
    residents_onboarding_submits_in_one_commit_or_not_at_all,
    residents_sixteen_admins_claim_one_submission_and_one_wins,
    residents_approval_revision_and_rejection_follow_the_table,
    residents_only_super_admins_assign_roles_audited,
    residents_a_stale_claim_changes_nothing_after_approval,
    residents_racing_super_admins_leave_one_consistent_role_state
);

use super::fixtures::refused;
use crate::kernel::store::ReadExt as _;
use crate::residents::{RoleChange, RoleGrant, RoleStore};

fn service<S: Store + Clone + 'static>(store: &S) -> Residents<S> {
    Residents::new(store.clone(), Arc::new(ManualClock::new(super::fixtures::epoch())), Arc::new(RandomIds))
}

fn someone() -> UserId {
    UserId::generate(&RandomIds)
}

/// Viramah §3 "Role Assignment Flow" step 4: "Staff roles are assigned manually by `SUPER_ADMIN`
/// only"; §14 B: "Admin and staff roles can only be assigned by `SUPER_ADMIN` — no self-elevation
/// possible", "JWT claims are verified against the database on sensitive operations".
pub async fn residents_only_super_admins_assign_roles_audited<S: Store + Clone + 'static>(store: S) {
    let r = service(&store);
    // A deployment's setup: the system grants the first super admin.
    let root = staff(&store, Role::SuperAdmin).await;
    let (root_id, ana) = (root.user_id().unwrap(), someone());
    let g = r.grant_role(&root, ana, Role::MaintenanceStaff).await.unwrap();
    assert_eq!(
        (g.user_id, g.role, g.active, g.changed_by.as_str()),
        (ana, Role::MaintenanceStaff, true, root_id.to_string().as_str())
    );
    let trail = store.audit_trail(g.entity_ref()).await.unwrap();
    assert_eq!((trail.len(), trail[0].action.as_str(), trail[0].actor.clone()), (1, "create", root_id.to_string()));
    // The grantee is told (the event's audience is the grant's readers: the holder).
    let events = store.outbox_after(0, 10_000).await.unwrap();
    let ev = events.iter().find(|(_, e)| e.entity == g.entity_ref()).map(|(_, e)| e).unwrap();
    assert_eq!((ev.topic.as_str(), ev.audience.clone()), ("residents.role_grant.create", vec![ana]));
    assert_eq!(store.role_roster(Role::MaintenanceStaff).await.unwrap().unwrap().value.holders, 1);
    let ana_actor = Actor::user(ana, []);
    assert_eq!(r.roles(&ana_actor, ana).await.unwrap().staff, vec![Role::MaintenanceStaff]);
    assert_eq!(r.actor(ana, None).await.unwrap(), Actor::user(ana, [Role::MaintenanceStaff]));

    // Refusals write nothing and carry the true code.
    let admin = staff(&store, Role::Admin).await;
    for role in [Role::MaintenanceStaff, Role::Admin, Role::SuperAdmin] {
        refused(&store, ErrorCode::Forbidden, r.grant_role(&admin, someone(), role)).await;
    }
    refused(&store, ErrorCode::Forbidden, r.revoke_role(&admin, ana, Role::MaintenanceStaff)).await;
    // No self-elevation, even for a super admin.
    refused(&store, ErrorCode::Forbidden, r.grant_role(&root, root_id, Role::Admin)).await;
    // A super admin claim the store does not back is nothing.
    let forged = Actor::user(someone(), [Role::SuperAdmin]);
    refused(&store, ErrorCode::Forbidden, r.grant_role(&forged, someone(), Role::Admin)).await;
    refused(&store, ErrorCode::Unauthenticated, r.grant_role(&Actor::Anonymous, someone(), Role::Admin)).await;
    refused(&store, ErrorCode::Conflict, r.grant_role(&root, ana, Role::MaintenanceStaff)).await;
    refused(&store, ErrorCode::NotFound, r.revoke_role(&root, ana, Role::CanteenStaff)).await;
    let e = refused(&store, ErrorCode::Validation, r.grant_role(&root, ana, Role::Resident)).await;
    assert_eq!((e.fields[0].field.as_str(), e.fields[0].violation.code()), ("role", "not_allowed"));
    // The resident roles come from onboarding only: nobody grants `resident`.
    let e = refused(&store, ErrorCode::Validation, r.grant_role(&Actor::System, ana, Role::Resident)).await;
    assert_eq!(e.fields[0].field, "role");

    // Revoking keeps the row, inactive; revoking again is `conflict`; granting again re-activates.
    let g = r.revoke_role(&root, ana, Role::MaintenanceStaff).await.unwrap();
    assert!(!g.active);
    refused(&store, ErrorCode::Conflict, r.revoke_role(&root, ana, Role::MaintenanceStaff)).await;
    assert_eq!(store.role_roster(Role::MaintenanceStaff).await.unwrap().unwrap().value.holders, 0);
    assert!(r.roles(&ana_actor, ana).await.unwrap().staff.is_empty());
    r.grant_role(&root, ana, Role::MaintenanceStaff).await.unwrap();
    let row = store.get::<RoleGrant>(crate::residents::roles::grant_id(ana, Role::MaintenanceStaff)).await;
    let row = row.unwrap().unwrap();
    assert_eq!((row.value.active, row.version), (true, 3));
    let trail = store.audit_trail(row.value.entity_ref()).await.unwrap();
    assert_eq!(trail.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(), ["create", "revoke", "grant"]);

    // A revoked admin's unexpired token still claims `admin`: the store decides.
    let admin_id = admin.user_id().unwrap();
    r.revoke_role(&root, admin_id, Role::Admin).await.unwrap();
    refused(&store, ErrorCode::Forbidden, r.review_queue(&admin, SubmissionStatus::PendingReview, 10)).await;

    // The last super admin cannot be removed — not by the system, not by stepping down.
    refused(&store, ErrorCode::Conflict, r.revoke_role(&Actor::System, root_id, Role::SuperAdmin)).await;
    refused(&store, ErrorCode::Conflict, r.revoke_role(&root, root_id, Role::SuperAdmin)).await;
    // With a second one, a super admin may step down.
    let second = someone();
    r.grant_role(&root, second, Role::SuperAdmin).await.unwrap();
    assert_eq!(store.role_roster(Role::SuperAdmin).await.unwrap().unwrap().value.holders, 2);
    r.revoke_role(&root, root_id, Role::SuperAdmin).await.unwrap();
    let holders: Vec<_> =
        store.role_holders(Role::SuperAdmin).await.unwrap().into_iter().map(|g| g.value.user_id).collect();
    assert_eq!(holders, [second]);
    // The stepped-down super admin's claim no longer grants anything.
    refused(&store, ErrorCode::Forbidden, r.grant_role(&root, someone(), Role::Admin)).await;
}

/// Viramah §3 step 3 ("Admin approves → role upgraded to `RESIDENT`") and §3 "KYC Completion
/// Gate" (the database's `user_roles.role` decides): a token that still says `pending_resident`
/// after the approval neither onboards again nor is kept out of resident services.
pub async fn residents_a_stale_claim_changes_nothing_after_approval<S: Store + Clone + 'static>(store: S) {
    let (r, _, me, _) = onboarded(store.clone()).await;
    let admin = staff(&store, Role::Admin).await;
    let sub = r.submit(&me).await.unwrap();
    r.review(&admin, sub.id, ReviewAction::Claim, None, &[]).await.unwrap();
    r.review(&admin, sub.id, ReviewAction::Approve, None, &[]).await.unwrap();
    let user = me.user_id().unwrap();
    assert!(me.has_role(Role::PendingResident) && !me.has_role(Role::Resident), "the token is stale");
    // Onboarding is over for the stored `resident`, whatever the token says.
    refused(&store, ErrorCode::Forbidden, r.save_draft(&me, 4, step(4))).await;
    refused(&store, ErrorCode::Forbidden, r.submit(&me)).await;
    assert_eq!(r.actor(user, None).await.unwrap(), Actor::user(user, [Role::Resident]));
    assert_eq!(r.roles(&me, user).await.unwrap().roles(), [Role::Resident]);
    // A pending resident whose token claims `resident` is still onboarding (and fails the KYC gate).
    let (r2, _, other, _) = onboarded(store.clone()).await;
    let forged = Actor::user(other.user_id().unwrap(), [Role::Resident]);
    r2.save_draft(&forged, 4, step(4)).await.unwrap();
    let st = store.resident_standing(other.user_id().unwrap()).await.unwrap().unwrap().value;
    assert_eq!(require_kyc(&forged, Some(&st)).unwrap_err().code, ErrorCode::KycIncomplete);
    // Maintenance counts the approved resident as a resident despite the stale claim (§3's gate).
    let hostel = crate::id::TenantId::generate(&RandomIds);
    let m = crate::maintenance::Maintenance::new(
        store.clone(),
        Arc::new(ManualClock::new(super::fixtures::epoch())),
        Arc::new(RandomIds),
    );
    m.install_default_categories(&admin).await.unwrap();
    let stale = me.clone().in_tenant(hostel);
    let req = m.submit(&stale, super::maintenance::request("plumber", "tap", "normal")).await.unwrap();
    assert_eq!(m.resident_view(&stale, req.id).await.unwrap().reference, "MR-0001");
}

/// Racing super admins (Viramah §3 step 4): the same grant or revocation by many at once leaves one
/// consistent state (the row, its roster, one audit record per change) and every loser is told
/// `conflict`; two super admins revoking each other leave exactly one, and the loser — no longer a
/// super admin when the winner committed — is told `forbidden`.
pub async fn residents_racing_super_admins_leave_one_consistent_role_state<S: Store + Clone + 'static>(store: S) {
    const RACERS: usize = 8;
    let r = Arc::new(service(&store));
    let mut supers = vec![staff(&store, Role::SuperAdmin).await];
    for _ in 1..RACERS {
        let u = someone();
        r.grant_role(&supers[0], u, Role::SuperAdmin).await.unwrap();
        supers.push(Actor::user(u, [Role::SuperAdmin]));
    }
    let target = someone();
    async fn race<S: Store + Clone + 'static>(
        r: &Arc<Residents<S>>,
        racers: &[(Actor, UserId)],
        change: RoleChange,
        role: Role,
    ) -> (Vec<Actor>, Vec<crate::error::Error>) {
        let barrier = Arc::new(tokio::sync::Barrier::new(racers.len()));
        let tasks: Vec<_> = racers
            .iter()
            .cloned()
            .map(|(who, target)| {
                let (r, b) = (r.clone(), barrier.clone());
                tokio::spawn(async move {
                    b.wait().await;
                    (who.clone(), r.assign_role(&who, target, role, change).await)
                })
            })
            .collect();
        let (mut won, mut lost) = (Vec::new(), Vec::new());
        for t in tasks {
            match t.await.unwrap() {
                (who, Ok(_)) => won.push(who),
                (_, Err(e)) => lost.push(e),
            }
        }
        (won, lost)
    }
    let all: Vec<(Actor, UserId)> = supers.iter().map(|s| (s.clone(), target)).collect();
    for change in [RoleChange::Grant, RoleChange::Revoke] {
        let (won, lost) = race(&r, &all, change, Role::MaintenanceStaff).await;
        assert_eq!(won.len(), 1, "{change}");
        assert!(lost.iter().all(|e| e.code == ErrorCode::Conflict), "{change}: {lost:?}");
        let row = store.get::<RoleGrant>(crate::residents::roles::grant_id(target, Role::MaintenanceStaff)).await;
        let row = row.unwrap().unwrap();
        let trail = store.audit_trail(row.value.entity_ref()).await.unwrap();
        let roster = store.role_roster(Role::MaintenanceStaff).await.unwrap().unwrap();
        let expected = if change == RoleChange::Grant { (true, 1, 1, 1) } else { (false, 2, 2, 0) };
        assert_eq!((row.value.active, row.version, trail.len(), roster.value.holders), expected, "{change}");
        assert_eq!(trail.last().unwrap().actor, won[0].user_id().unwrap().to_string());
    }
    // Super admins revoke each other in pairs until one is left: each round leaves exactly one of the
    // two, and the other is told `forbidden` whichever attempt it was on.
    let mut alive = supers;
    while alive.len() > 1 {
        let (a, b) = (alive.pop().unwrap(), alive.pop().unwrap());
        // Other super admins may still hold the role: the roster serializes the pair all the same.
        let pair = [(a.clone(), b.user_id().unwrap()), (b.clone(), a.user_id().unwrap())];
        let (won, lost) = race(&r, &pair, RoleChange::Revoke, Role::SuperAdmin).await;
        assert_eq!(won.len(), 1);
        assert_eq!(lost.iter().map(|e| e.code).collect::<Vec<_>>(), [ErrorCode::Forbidden], "{lost:?}");
        alive.insert(0, won[0].clone());
    }
    let holders = store.role_holders(Role::SuperAdmin).await.unwrap();
    assert_eq!(holders.iter().map(|g| g.value.user_id).collect::<Vec<_>>(), [alive[0].user_id().unwrap()]);
    assert_eq!(store.role_roster(Role::SuperAdmin).await.unwrap().unwrap().value.holders, 1);
    // The last two step down at once: one may, the other is told the last one stays.
    let u = someone();
    r.grant_role(&alive[0], u, Role::SuperAdmin).await.unwrap();
    let pair = [(alive[0].clone(), alive[0].user_id().unwrap()), (Actor::user(u, []), u)];
    let (won, lost) = race(&r, &pair, RoleChange::Revoke, Role::SuperAdmin).await;
    assert_eq!((won.len(), lost.iter().map(|e| e.code).collect::<Vec<_>>()), (1, vec![ErrorCode::Conflict]));
    assert_eq!(store.role_holders(Role::SuperAdmin).await.unwrap().len(), 1);
    assert_eq!(store.role_roster(Role::SuperAdmin).await.unwrap().unwrap().value.holders, 1);
}
