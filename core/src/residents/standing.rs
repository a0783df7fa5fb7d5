//! A user's standing as a Viramah resident (seed 002 §3): the resident role they hold, whether
//! onboarding is complete, whether KYC is complete, and their latest submission's status — one
//! record, so the KYC gate is one pure predicate over it.

use crate::actor::Actor;
use crate::error::{Error, ErrorCode};
use crate::homeheroes::model::wire_enum;
use crate::id::UserId;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

wire_enum!(
    /// The resident role a user holds (seed 002 §3, "Role Assignment Flow"): `pending_resident` at
    /// sign-up, `resident` once an admin approves the onboarding submission.
    ResidentRole {
        /// Signed up; onboarding not approved.
        PendingResident = "pending_resident",
        /// Approved.
        Resident = "resident",
    }
);

wire_enum!(
    /// An onboarding submission's state (seed 002 §6, "Approval State Machine").
    SubmissionStatus {
        /// Submitted, waiting for an admin.
        PendingReview = "pending_review",
        /// Claimed by one admin.
        UnderReview = "under_review",
        /// Approved: the user is a resident.
        Approved = "approved",
        /// Rejected with a reason; the user may submit again.
        Rejected = "rejected",
        /// Some fields must change; only those may.
        NeedsRevision = "needs_revision",
    }
);

/// A user's standing. Keyed by the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentStanding {
    /// The user.
    pub user_id: UserId,
    /// The resident role held (the database's `user_roles.role`, which the seed verifies JWT claims against).
    pub role: ResidentRole,
    /// `users.onboarding_complete`: a submission was made (set by the final submission's commit).
    pub onboarding_complete: bool,
    /// `users.kyc_complete`: set by the approval's commit.
    pub kyc_complete: bool,
    /// The latest submission's status (`onboarding_submissions.status`), kept in the same commit
    /// as every change of the submission.
    pub submission: Option<SubmissionStatus>,
    /// When last changed.
    pub updated_at: Timestamp,
}

impl ResidentStanding {
    /// A new sign-up: `pending_resident`, nothing complete.
    pub fn signed_up(user_id: UserId, now: Timestamp) -> Self {
        Self {
            user_id,
            role: ResidentRole::PendingResident,
            onboarding_complete: false,
            kyc_complete: false,
            submission: None,
            updated_at: now,
        }
    }
}

/// The KYC gate (seed 002 §3, "KYC Completion Gate": "1. `onboarding_submissions.status =
/// 'approved'` 2. `users.kyc_complete = true` 3. `user_roles.role = 'RESIDENT'`"), as one pure
/// predicate.
pub fn kyc_cleared(standing: &ResidentStanding) -> bool {
    standing.submission == Some(SubmissionStatus::Approved)
        && standing.kyc_complete
        && standing.role == ResidentRole::Resident
}

/// What every resident-only command checks in `decide`, given the caller's standing as loaded in
/// its snapshot ([`super::ResidentStore::resident_standing`]): `unauthenticated` for anonymous
/// callers, `kyc_incomplete` unless `standing` is the caller's own and [`kyc_cleared`].
pub fn require_kyc(actor: &Actor, standing: Option<&ResidentStanding>) -> Result<(), Error> {
    let user = actor.user_id().ok_or_else(Error::unauthenticated)?;
    match standing {
        Some(s) if s.user_id == user && kyc_cleared(s) => Ok(()),
        _ => Err(Error::new(
            ErrorCode::KycIncomplete,
            "complete onboarding and wait for an admin's approval before using resident services",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::Role;
    use uuid::Uuid;

    #[test]
    fn the_gate_needs_all_three_conditions() {
        let user = UserId::from_uuid(Uuid::from_u128(5));
        let now = Timestamp::from_unix_micros(0).unwrap();
        let actor = Actor::user(user, [Role::Resident]);
        let cleared = ResidentStanding {
            role: ResidentRole::Resident,
            onboarding_complete: true,
            kyc_complete: true,
            submission: Some(SubmissionStatus::Approved),
            ..ResidentStanding::signed_up(user, now)
        };
        assert!(kyc_cleared(&cleared) && require_kyc(&actor, Some(&cleared)).is_ok());
        // Take away each condition in turn.
        let cases = [
            ResidentStanding { submission: Some(SubmissionStatus::UnderReview), ..cleared.clone() },
            ResidentStanding { submission: None, ..cleared.clone() },
            ResidentStanding { kyc_complete: false, ..cleared.clone() },
            ResidentStanding { role: ResidentRole::PendingResident, ..cleared.clone() },
        ];
        for s in cases {
            assert!(!kyc_cleared(&s));
            assert_eq!(require_kyc(&actor, Some(&s)).unwrap_err().code, ErrorCode::KycIncomplete);
        }
        assert_eq!(require_kyc(&actor, None).unwrap_err().code, ErrorCode::KycIncomplete);
        let other = Actor::user(UserId::from_uuid(Uuid::from_u128(6)), [Role::Resident]);
        assert_eq!(require_kyc(&other, Some(&cleared)).unwrap_err().code, ErrorCode::KycIncomplete, "not theirs");
        assert_eq!(require_kyc(&Actor::Anonymous, Some(&cleared)).unwrap_err().code, ErrorCode::Unauthenticated);
        assert_eq!(ErrorCode::KycIncomplete.as_str(), "kyc_incomplete");
    }
}
