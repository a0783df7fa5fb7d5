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

crate::conformance_cases!("residents";
    residents_the_kyc_gate_reads_one_standing
);
