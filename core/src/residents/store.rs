//! The residents' entities (declared here, next to the model) and their reads over any [`Reader`].

use super::standing::{ResidentRole, ResidentStanding, SubmissionStatus};
use crate::id::UserId;
use crate::kernel::entity::{Domain, Entity, EntityDecl, Readers, Shape};
use crate::kernel::store::{ReadExt, Reader, StoreResult, Versioned};
use crate::kernel::value::{Decoded, Row, RowRead, ValueType};
use uuid::Uuid;

/// The residents domain.
pub static DOMAIN: Domain = Domain {
    name: "residents",
    entities: &[
        &STANDING,
        &super::inquiry::INQUIRY,
        &super::inquiry::INQUIRY_KEY,
        &super::inquiry::INQUIRY_ATTEMPT,
        &super::inquiry::DEVICE,
        &super::onboarding::DRAFT,
        &super::onboarding::PROFILE,
        &super::onboarding::SUBMISSION,
        &super::roles::GRANT,
        &super::roles::ROSTER,
    ],
};

static STANDING: EntityDecl = EntityDecl {
    kind: "residents.standing",
    aliases: &[],
    human: "resident standing",
    table: "resident_standings",
    key: "user_id",
    shape: Shape::Versioned,
    uniques: &[],
    guards: &[],
};

impl Entity for ResidentStanding {
    const DECL: &'static EntityDecl = &STANDING;
    fn id(&self) -> Uuid {
        self.user_id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("user_id", self.user_id.as_uuid())
            .with("role", self.role.as_str())
            .with("onboarding_complete", self.onboarding_complete)
            .with("last_completed_step", self.last_completed_step)
            .with("kyc_complete", self.kyc_complete)
            .with_opt("submission_status", ValueType::Text, self.submission.map(|s| s.as_str()))
            .with("updated_at", self.updated_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(ResidentStanding {
            user_id: UserId::from_uuid(r.uuid("user_id")?),
            role: r.wire("role", ResidentRole::parse)?,
            onboarding_complete: r.bool("onboarding_complete")?,
            last_completed_step: r.int("last_completed_step")?,
            kyc_complete: r.bool("kyc_complete")?,
            submission: r.opt_wire("submission_status", SubmissionStatus::parse)?,
            updated_at: r.ts("updated_at")?,
        })
    }
    /// A standing is its user's (admins, who approve, read everything).
    fn readers(&self) -> Readers {
        Readers::users([self.user_id])
    }
}

/// The residents' reads, written once over any [`Reader`] (a store, or one command's snapshot).
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait ResidentStore: Reader {
    /// `user`'s standing: what a resident-only command loads in its snapshot and hands to
    /// [`super::require_kyc`] in `decide`.
    async fn resident_standing(&self, user: UserId) -> StoreResult<Option<Versioned<ResidentStanding>>> {
        self.get(user.as_uuid()).await
    }
}

impl<R: Reader + ?Sized> ResidentStore for R {}
