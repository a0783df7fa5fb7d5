//! Onboarding (seed 002 §5) and approvals (§6): drafts saved per step and validated on save, the
//! final submission in one commit, and the approval machine as a table.

use super::access::{permits, ResidentAction, Scope};
use super::inquiry::normalise_phone;
use super::roles::{acting_as, stored_roles, RoleGrant, RoleStore, StoredRoles};
use super::standing::{ResidentRole, ResidentStanding, SubmissionStatus};
use super::ResidentStore;
use crate::actor::{Actor, Role};
use crate::authz::Decision;
use crate::error::{Error, ErrorCode};
use crate::homeheroes::model::wire_enum;
use crate::id::{ReservationId, SubmissionId, UserId};
use crate::kernel::access::{require, require_visible};
use crate::kernel::entity::{Entity, EntityDecl, Readers, Shape, Unique};
use crate::kernel::query::{Dir, Query};
use crate::kernel::store::{ReadExt, Reader, StoreResult, Versioned};
use crate::kernel::value::{int_as, Decoded, Row, RowRead, Value, ValueType};
use crate::machine::{held_parties, Machine, Party, Row as Step};
use crate::money::Money;
use crate::notifications::{notify, NewNotification, Recipient};
use crate::rooms::{BedReservation, ReservationStatus, RoomStore, Settle, SettleReservation, SettleScene};
use crate::service::{Command, Decide};
use crate::time::Timestamp;
use crate::validate::{TextRule, ValidationErrors, Validator, Violation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The onboarding steps that hold data (step 5 is review and submit).
pub const STEPS: i64 = 4;
/// Longest storage path of a KYC document.
pub const DOCUMENT_PATH_MAX: usize = 300;
const NAME: TextRule = TextRule { min_chars: 2, max_chars: 100, multiline: false };
const NOTES: TextRule = TextRule { min_chars: 0, max_chars: 500, multiline: true };
const REASON: TextRule = TextRule { min_chars: 5, max_chars: 500, multiline: true };
const DRAFT_NAMESPACE: Uuid = Uuid::from_u128(0x7669_7261_6d61_6800_0000_0000_0000_0005);

/// The fields of the permanent record an admin may flag for revision.
pub const PROFILE_FIELDS: [&str; 9] = [
    "full_name",
    "id_document_path",
    "guardian_name",
    "guardian_phone",
    "guardian_relation",
    "guardian_document_path",
    "reservation_id",
    "diet",
    "notes",
];

/// A KYC document reference: a path in the private bucket, never a URL (§5: "Storage paths stored
/// in the KYC tables (never public URLs)"). `bucket/segment/…/file.ext`, no `..`, no scheme.
pub fn document_path(v: &mut Validator, field: &str, raw: Option<&str>) -> Option<String> {
    let Some(p) = raw.map(str::trim).filter(|p| !p.is_empty()) else {
        v.push(field, Violation::Required);
        return None;
    };
    let ok = p.len() <= DOCUMENT_PATH_MAX
        && !p.contains("://")
        && !p.starts_with('/')
        && p.contains('/')
        && p.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        && p.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.'));
    if !ok {
        v.push(field, Violation::InvalidFormat { expected: "storage_path".into() });
        return None;
    }
    Some(p.to_owned())
}

/// One step's data as sent (every field optional; which ones a step needs is checked on save).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StepInput {
    /// Step 1.
    pub full_name: Option<String>,
    /// Step 1: storage path of the ID document.
    pub id_document_path: Option<String>,
    /// Step 2.
    pub guardian_name: Option<String>,
    /// Step 2 (E.164, Indian national numbers accepted).
    pub guardian_phone: Option<String>,
    /// Step 2: `parent`, `guardian`, `sibling` or `other`.
    pub guardian_relation: Option<String>,
    /// Step 2: storage path of the guardian's ID document.
    pub guardian_document_path: Option<String>,
    /// Step 3: the bed the resident soft-reserved (`rooms`).
    pub reservation_id: Option<ReservationId>,
    /// Step 4: `veg`, `non_veg` or `vegan`.
    pub diet: Option<String>,
    /// Step 4.
    pub notes: Option<String>,
}

const RELATIONS: &[(&str, &str)] =
    &[("parent", "parent"), ("guardian", "guardian"), ("sibling", "sibling"), ("other", "other")];
const DIETS: &[(&str, &str)] = &[("veg", "veg"), ("non_veg", "non_veg"), ("vegan", "vegan")];

/// Validates one step's data (the store-free part; step 3's reservation is checked on load).
pub fn check_step(step: i64, input: &StepInput) -> Result<StepInput, ValidationErrors> {
    let mut v = Validator::new();
    let mut out = StepInput::default();
    match step {
        1 => {
            out.full_name = v.text("full_name", input.full_name.as_deref(), NAME);
            out.id_document_path = document_path(&mut v, "id_document_path", input.id_document_path.as_deref());
        }
        2 => {
            out.guardian_name = v.text("guardian_name", input.guardian_name.as_deref(), NAME);
            out.guardian_phone = normalise_phone(&mut v, "guardian_phone", input.guardian_phone.as_deref());
            out.guardian_relation =
                v.one_of("guardian_relation", input.guardian_relation.as_deref(), RELATIONS).map(str::to_owned);
            out.guardian_document_path =
                document_path(&mut v, "guardian_document_path", input.guardian_document_path.as_deref());
        }
        3 => match input.reservation_id {
            Some(r) => out.reservation_id = Some(r),
            None => v.push("reservation_id", Violation::Required),
        },
        4 => {
            out.diet = v.one_of("diet", input.diet.as_deref(), DIETS).map(str::to_owned);
            out.notes = v.optional_text("notes", input.notes.as_deref(), NOTES).map(|n| n.unwrap_or_default());
        }
        _ => v.push("step", Violation::OutOfRange { min: 1, max: STEPS }),
    }
    v.finish(|| Some(out))
}

/// One saved step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnboardingDraft {
    /// `uuid5(user, step)`: one draft per user and step.
    pub id: Uuid,
    /// The user.
    pub user_id: UserId,
    /// 1–4.
    pub step: i64,
    /// The validated step data.
    pub data: StepInput,
    /// When last saved.
    pub updated_at: Timestamp,
}

fn draft_id(user: UserId, step: i64) -> Uuid {
    Uuid::new_v5(&DRAFT_NAMESPACE, format!("{user}:{step}").as_bytes())
}

/// The permanent record the final submission copies the drafts into (the seed's residential KYC,
/// parental KYC, room selection and preferences, as one row per user).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentProfile {
    /// The user (key).
    pub user_id: UserId,
    /// Step 1.
    pub full_name: String,
    /// Step 1: a storage path.
    pub id_document_path: String,
    /// Step 2.
    pub guardian_name: String,
    /// Step 2, E.164.
    pub guardian_phone: String,
    /// Step 2.
    pub guardian_relation: String,
    /// Step 2: a storage path.
    pub guardian_document_path: String,
    /// Step 3: the soft reservation.
    pub reservation_id: ReservationId,
    /// Step 3.
    pub lunchbox: bool,
    /// Step 3: computed by core (₹3,000 with the lunchbox).
    pub additional_charge: Money,
    /// Step 4.
    pub diet: String,
    /// Step 4.
    pub notes: String,
    /// When last copied.
    pub updated_at: Timestamp,
}

impl ResidentProfile {
    fn field(&self, name: &str) -> String {
        match name {
            "full_name" => self.full_name.clone(),
            "id_document_path" => self.id_document_path.clone(),
            "guardian_name" => self.guardian_name.clone(),
            "guardian_phone" => self.guardian_phone.clone(),
            "guardian_relation" => self.guardian_relation.clone(),
            "guardian_document_path" => self.guardian_document_path.clone(),
            "reservation_id" => self.reservation_id.to_string(),
            "diet" => self.diet.clone(),
            "notes" => self.notes.clone(),
            _ => String::new(),
        }
    }
}

wire_enum!(
    /// What an admin (or, for `resubmit`, the applicant) does to a submission.
    ReviewAction {
        /// Take it for review (one admin at a time).
        Claim = "claim",
        /// Approve.
        Approve = "approve",
        /// Reject with a reason.
        Reject = "reject",
        /// Ask for some fields to change.
        RequestRevision = "request_revision",
        /// Submit again after a rejection or a revision request.
        Resubmit = "resubmit",
    }
);

/// How an actor stands to a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmissionRelation {
    /// The admin who claimed it.
    Reviewer,
    /// The user who submitted it.
    Applicant,
}

use SubmissionStatus as S;
/// The approval machine (seed 002 §6): `pending_review → under_review → approved | rejected |
/// needs_revision`, and back to `pending_review` on resubmission.
pub static APPROVAL: Machine<SubmissionStatus, ReviewAction, SubmissionRelation, ()> = Machine {
    name: "onboarding_submission",
    rows: &[
        Step {
            from: &[S::PendingReview],
            action: ReviewAction::Claim,
            to: S::UnderReview,
            parties: &[Party::Family(crate::actor::RoleFamily::Admin)],
            guard: None,
        },
        Step {
            from: &[S::UnderReview],
            action: ReviewAction::Approve,
            to: S::Approved,
            parties: &[Party::Relation(SubmissionRelation::Reviewer)],
            guard: None,
        },
        Step {
            from: &[S::UnderReview],
            action: ReviewAction::Reject,
            to: S::Rejected,
            parties: &[Party::Relation(SubmissionRelation::Reviewer)],
            guard: None,
        },
        Step {
            from: &[S::UnderReview],
            action: ReviewAction::RequestRevision,
            to: S::NeedsRevision,
            parties: &[Party::Relation(SubmissionRelation::Reviewer)],
            guard: None,
        },
        Step {
            from: &[S::Rejected, S::NeedsRevision],
            action: ReviewAction::Resubmit,
            to: S::PendingReview,
            parties: &[Party::Relation(SubmissionRelation::Applicant)],
            guard: None,
        },
    ],
};

/// An onboarding submission (one per user; resubmissions move it back to `pending_review`). Each
/// transition is audited with its actor, before and after (the seed's `approval_records`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// Id.
    pub id: SubmissionId,
    /// The applicant.
    pub user_id: UserId,
    /// State.
    pub status: SubmissionStatus,
    /// The admin who claimed it last.
    pub reviewer: Option<UserId>,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// What must change (needs revision): names from [`PROFILE_FIELDS`].
    pub flagged_fields: Vec<String>,
    /// 1 for the first submission, +1 per resubmission.
    pub attempt: i64,
    /// When first submitted.
    pub created_at: Timestamp,
    /// When last changed.
    pub updated_at: Timestamp,
}

pub(super) static DRAFT: EntityDecl = EntityDecl {
    kind: "residents.onboarding_draft",
    aliases: &[],
    human: "onboarding draft",
    table: "onboarding_drafts",
    key: "id",
    shape: Shape::Versioned,
    uniques: &[Unique { name: "onboarding_drafts_step_key", columns: &["user_id", "step"], when: None }],
    guards: &[],
};
pub(super) static PROFILE: EntityDecl = EntityDecl {
    kind: "residents.profile",
    aliases: &[],
    human: "resident profile",
    table: "resident_profiles",
    key: "user_id",
    shape: Shape::Versioned,
    uniques: &[],
    guards: &[],
};
pub(super) static SUBMISSION: EntityDecl = EntityDecl {
    kind: "residents.submission",
    aliases: &[],
    human: "onboarding submission",
    table: "onboarding_submissions",
    key: "id",
    shape: Shape::Versioned,
    uniques: &[Unique { name: "onboarding_submissions_user_key", columns: &["user_id"], when: None }],
    guards: &[],
};

impl Entity for OnboardingDraft {
    const DECL: &'static EntityDecl = &DRAFT;
    fn id(&self) -> Uuid {
        self.id
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id)
            .with("user_id", self.user_id.as_uuid())
            .with("step", self.step)
            .with("data", Value::Json(serde_json::to_value(&self.data).unwrap_or_default()))
            .with("updated_at", self.updated_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(OnboardingDraft {
            id: r.uuid("id")?,
            user_id: UserId::from_uuid(r.uuid("user_id")?),
            step: r.int("step")?,
            data: crate::kernel::value::json_as(r, "data")?,
            updated_at: r.ts("updated_at")?,
        })
    }
    fn readers(&self) -> Readers {
        Readers::users([self.user_id])
    }
}

impl Entity for ResidentProfile {
    const DECL: &'static EntityDecl = &PROFILE;
    fn id(&self) -> Uuid {
        self.user_id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("user_id", self.user_id.as_uuid())
            .with("full_name", self.full_name.as_str())
            .with("id_document_path", self.id_document_path.as_str())
            .with("guardian_name", self.guardian_name.as_str())
            .with("guardian_phone", self.guardian_phone.as_str())
            .with("guardian_relation", self.guardian_relation.as_str())
            .with("guardian_document_path", self.guardian_document_path.as_str())
            .with("reservation_id", self.reservation_id.as_uuid())
            .with("lunchbox", self.lunchbox)
            .with("charge", self.additional_charge)
            .with("currency", self.additional_charge.currency())
            .with("diet", self.diet.as_str())
            .with("notes", self.notes.as_str())
            .with("updated_at", self.updated_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        let currency = r.currency("currency")?;
        Ok(ResidentProfile {
            user_id: UserId::from_uuid(r.uuid("user_id")?),
            full_name: r.text("full_name")?,
            id_document_path: r.text("id_document_path")?,
            guardian_name: r.text("guardian_name")?,
            guardian_phone: r.text("guardian_phone")?,
            guardian_relation: r.text("guardian_relation")?,
            guardian_document_path: r.text("guardian_document_path")?,
            reservation_id: ReservationId::from_uuid(r.uuid("reservation_id")?),
            lunchbox: r.bool("lunchbox")?,
            additional_charge: r.money("charge", currency)?,
            diet: r.text("diet")?,
            notes: r.text("notes")?,
            updated_at: r.ts("updated_at")?,
        })
    }
    fn readers(&self) -> Readers {
        Readers::users([self.user_id])
    }
}

impl Entity for Submission {
    const DECL: &'static EntityDecl = &SUBMISSION;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id.as_uuid())
            .with("user_id", self.user_id.as_uuid())
            .with("status", self.status.as_str())
            .with_opt("reviewer", ValueType::Uuid, self.reviewer.map(|u| u.as_uuid()))
            .with_opt("reason", ValueType::Text, self.reason.clone())
            .with("flagged_fields", Value::TextList(self.flagged_fields.clone()))
            .with("attempt", self.attempt)
            .with("created_at", self.created_at)
            .with("updated_at", self.updated_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(Submission {
            id: SubmissionId::from_uuid(r.uuid("id")?),
            user_id: UserId::from_uuid(r.uuid("user_id")?),
            status: r.wire("status", SubmissionStatus::parse)?,
            reviewer: r.opt_uuid("reviewer")?.map(UserId::from_uuid),
            reason: r.opt_text("reason")?,
            flagged_fields: r.text_list("flagged_fields")?,
            attempt: int_as(r, "attempt")?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }
    /// The applicant (admins, who review, read everything).
    fn readers(&self) -> Readers {
        Readers::users([self.user_id])
    }
}

/// Onboarding reads over any [`Reader`].
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait OnboardingStore: Reader {
    /// `user`'s drafts, by step.
    async fn drafts(&self, user: UserId) -> StoreResult<Vec<Versioned<OnboardingDraft>>> {
        self.find(Query::of::<OnboardingDraft>().eq("user_id", user.as_uuid()).order_by("step", Dir::Asc)).await
    }
    /// `user`'s submission.
    async fn submission_of(&self, user: UserId) -> StoreResult<Option<Versioned<Submission>>> {
        self.find_one(Query::of::<Submission>().eq("user_id", user.as_uuid())).await
    }
    /// A submission.
    async fn submission(&self, id: SubmissionId) -> StoreResult<Option<Versioned<Submission>>> {
        self.get(id.as_uuid()).await
    }
    /// `user`'s permanent record.
    async fn resident_profile(&self, user: UserId) -> StoreResult<Option<Versioned<ResidentProfile>>> {
        self.get(user.as_uuid()).await
    }
    /// Submissions in `status`, oldest first (the admin queue).
    async fn submissions_in(&self, status: SubmissionStatus, limit: u32) -> StoreResult<Vec<Versioned<Submission>>> {
        self.find(
            Query::of::<Submission>()
                .eq("status", status.as_str())
                .order_by("updated_at", Dir::Asc)
                .order_by("id", Dir::Asc)
                .limit(limit),
        )
        .await
    }
}

impl<R: Reader + ?Sized> OnboardingStore for R {}

/// The caller as a pending resident onboarding themselves, by their stored roles (`me`):
/// `unauthenticated` for anonymous callers, `forbidden` for anyone else (a resident already approved,
/// staff, a user who has not signed up).
fn applicant(me: &Actor, action: ResidentAction) -> Result<UserId, Error> {
    let allowed = permits(me, action, Scope::Own);
    require(me, Decision::when(allowed, "only pending residents onboard (sign up first)"))?;
    me.user_id().ok_or_else(Error::unauthenticated)
}

fn me_of(actor: &Actor, grants: &[Versioned<RoleGrant>], standing: Option<&Versioned<ResidentStanding>>) -> Actor {
    acting_as(actor, &StoredRoles::of(grants, standing.map(|s| &s.value)))
}

fn editable(standing: &ResidentStanding) -> Result<(), Error> {
    match standing.submission {
        None | Some(S::Rejected) | Some(S::NeedsRevision) => Ok(()),
        Some(s) => Err(Error::new(ErrorCode::InvalidTransition, format!("onboarding cannot change while `{s}`"))),
    }
}

fn held_by(r: &Option<Versioned<BedReservation>>, user: UserId) -> Result<BedReservation, Error> {
    match r {
        Some(r) if r.value.user_id == user && r.value.status == ReservationStatus::Held => Ok(r.value.clone()),
        Some(r) if r.value.user_id == user => {
            Err(Error::precondition(format!("the reservation is `{}`", r.value.status)))
        }
        _ => Err(ValidationErrors::single(
            "reservation_id",
            Violation::InvalidFormat { expected: "your_held_reservation".into() },
        )
        .into()),
    }
}

/// Saves one step's draft (upsert; resumable), validated on save; moves `last_completed_step`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveDraft {
    /// 1–4.
    pub step: i64,
    /// The step's data.
    pub data: StepInput,
}

/// What saving a draft reads.
pub struct DraftScene {
    grants: Vec<Versioned<RoleGrant>>,
    standing: Option<Versioned<ResidentStanding>>,
    draft: Option<Versioned<OnboardingDraft>>,
    reservation: Option<Versioned<BedReservation>>,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for SaveDraft {
    const NAME: &'static str = "residents.save_draft";
    type Valid = StepInput;
    type Loaded = DraftScene;
    type Output = OnboardingDraft;

    fn validate(&self, _now: Timestamp) -> Result<StepInput, ValidationErrors> {
        check_step(self.step, &self.data)
    }
    async fn load(&self, store: &dyn Reader, actor: &Actor, v: &StepInput) -> Result<DraftScene, Error> {
        let Some(user) = actor.user_id() else {
            return Ok(DraftScene { grants: Vec::new(), standing: None, draft: None, reservation: None });
        };
        let reservation = match v.reservation_id {
            Some(r) => store.reservation(r).await?,
            None => None,
        };
        Ok(DraftScene {
            grants: store.role_grants(user).await?,
            standing: store.resident_standing(user).await?,
            draft: store.get(draft_id(user, self.step)).await?,
            reservation,
        })
    }
    fn decide(
        &self,
        actor: &Actor,
        v: &StepInput,
        s: DraftScene,
        cx: &mut Decide<'_>,
    ) -> Result<OnboardingDraft, Error> {
        let user = applicant(&me_of(actor, &s.grants, s.standing.as_ref()), ResidentAction::SaveDraft)?;
        let standing = s.standing.ok_or_else(|| Error::precondition("sign up first"))?;
        editable(&standing.value)?;
        if self.step == 3 {
            held_by(&s.reservation, user)?;
        }
        let draft = OnboardingDraft {
            id: draft_id(user, self.step),
            user_id: user,
            step: self.step,
            data: v.clone(),
            updated_at: cx.now(),
        };
        match &s.draft {
            Some(before) => cx.update(before, draft.clone(), "save")?,
            None => cx.insert(draft.clone())?,
        }
        if self.step > standing.value.last_completed_step {
            let mut after = standing.value.clone();
            after.last_completed_step = self.step;
            after.updated_at = cx.now();
            cx.update(&standing, after, "step_completed")?;
        }
        Ok(draft)
    }
}

/// The final submission (§5 "Transactional Integrity"): one commit writes the submission
/// (`pending_review`), copies the drafts into the permanent record, marks onboarding complete and
/// notifies the admins' inbox; any failure writes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submit {}

/// What the final submission reads.
pub struct SubmitScene {
    grants: Vec<Versioned<RoleGrant>>,
    standing: Option<Versioned<ResidentStanding>>,
    drafts: Vec<Versioned<OnboardingDraft>>,
    reservation: Option<Versioned<BedReservation>>,
    submission: Option<Versioned<Submission>>,
    profile: Option<Versioned<ResidentProfile>>,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for Submit {
    const NAME: &'static str = "residents.submit";
    type Valid = ();
    type Loaded = SubmitScene;
    type Output = Submission;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        Ok(())
    }
    async fn load(&self, store: &dyn Reader, actor: &Actor, _: &()) -> Result<SubmitScene, Error> {
        let Some(user) = actor.user_id() else {
            return Ok(SubmitScene {
                grants: Vec::new(),
                standing: None,
                drafts: Vec::new(),
                reservation: None,
                submission: None,
                profile: None,
            });
        };
        let drafts = store.drafts(user).await?;
        let reservation = match drafts.iter().find_map(|d| d.value.data.reservation_id) {
            Some(r) => store.reservation(r).await?,
            None => None,
        };
        Ok(SubmitScene {
            grants: store.role_grants(user).await?,
            standing: store.resident_standing(user).await?,
            drafts,
            reservation,
            submission: store.submission_of(user).await?,
            profile: store.resident_profile(user).await?,
        })
    }
    fn decide(&self, actor: &Actor, _: &(), s: SubmitScene, cx: &mut Decide<'_>) -> Result<Submission, Error> {
        let user = applicant(&me_of(actor, &s.grants, s.standing.as_ref()), ResidentAction::Submit)?;
        let standing = s.standing.ok_or_else(|| Error::precondition("sign up first"))?;
        editable(&standing.value)?;
        // The final validation pass over every step.
        let mut v = Validator::new();
        let mut steps: Vec<Option<StepInput>> = vec![None; STEPS as usize];
        for k in 1..=STEPS {
            match s.drafts.iter().find(|d| d.value.step == k) {
                None => v.push(&format!("step_{k}"), Violation::Required),
                Some(d) => match check_step(k, &d.value.data) {
                    Ok(data) => steps[(k - 1) as usize] = Some(data),
                    Err(e) => {
                        for f in e.into_errors() {
                            v.push(&format!("step_{k}.{}", f.field), f.violation);
                        }
                    }
                },
            }
        }
        v.finish(|| Some(()))?;
        let [Some(p), Some(g), Some(_), Some(pref)] =
            <[Option<StepInput>; 4]>::try_from(steps).map_err(|_| Error::internal("steps"))?
        else {
            return Err(Error::internal("a validated step is missing"));
        };
        let reservation = held_by(&s.reservation, user)?;
        let now = cx.now();
        let profile = ResidentProfile {
            user_id: user,
            full_name: p.full_name.unwrap_or_default(),
            id_document_path: p.id_document_path.unwrap_or_default(),
            guardian_name: g.guardian_name.unwrap_or_default(),
            guardian_phone: g.guardian_phone.unwrap_or_default(),
            guardian_relation: g.guardian_relation.unwrap_or_default(),
            guardian_document_path: g.guardian_document_path.unwrap_or_default(),
            reservation_id: reservation.id,
            lunchbox: reservation.lunchbox,
            additional_charge: reservation.additional_charge,
            diet: pref.diet.unwrap_or_default(),
            notes: pref.notes.unwrap_or_default(),
            updated_at: now,
        };
        let submission = match s.submission {
            None => {
                let sub = Submission {
                    id: SubmissionId::generate(cx.ids()),
                    user_id: user,
                    status: S::PendingReview,
                    reviewer: None,
                    reason: None,
                    flagged_fields: Vec::new(),
                    attempt: 1,
                    created_at: now,
                    updated_at: now,
                };
                cx.insert(sub.clone())?;
                sub
            }
            Some(before) => {
                let to = APPROVAL.fire(
                    before.value.status,
                    ReviewAction::Resubmit,
                    &held_parties(actor, &[SubmissionRelation::Applicant]),
                    &(),
                )?;
                // Needs revision: only the flagged fields may change (§6).
                if before.value.status == S::NeedsRevision {
                    if let Some(old) = &s.profile {
                        let mut v = Validator::new();
                        for f in PROFILE_FIELDS {
                            if old.value.field(f) != profile.field(f)
                                && !before.value.flagged_fields.iter().any(|x| x == f)
                            {
                                v.push(f, Violation::NotAllowed { allowed: before.value.flagged_fields.clone() });
                            }
                        }
                        v.finish(|| Some(()))?;
                    }
                }
                let after = Submission {
                    status: to,
                    reason: None,
                    flagged_fields: Vec::new(),
                    attempt: before.value.attempt + 1,
                    updated_at: now,
                    ..before.value.clone()
                };
                cx.update(&before, after.clone(), ReviewAction::Resubmit.as_str())?;
                after
            }
        };
        match &s.profile {
            Some(before) => cx.update(before, profile, "copy")?,
            None => cx.insert(profile)?,
        }
        let mut after = standing.value.clone();
        after.onboarding_complete = true;
        after.submission = Some(S::PendingReview);
        after.updated_at = now;
        cx.update(&standing, after, "submitted")?;
        notify(
            cx,
            NewNotification {
                recipient: Recipient::Role(Role::Admin),
                kind: "onboarding.submitted",
                title: "An onboarding submission is waiting for review",
                body: "",
                subject: submission.entity_ref(),
            },
        )?;
        Ok(submission)
    }
}

/// An admin's step on a submission: claim, approve, reject (with a reason) or request revision
/// (with the flagged fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// The submission.
    pub submission_id: SubmissionId,
    /// What.
    pub action: ReviewAction,
    /// Rejection reason.
    pub reason: Option<String>,
    /// Fields to revise.
    pub flagged_fields: Vec<String>,
}

/// A checked review.
#[derive(Debug, Clone)]
pub struct ValidReview {
    reason: Option<String>,
    flagged: Vec<String>,
}

/// What a review reads.
pub struct ReviewScene {
    caller: StoredRoles,
    submission: Option<Versioned<Submission>>,
    standing: Option<Versioned<ResidentStanding>>,
    settle: Option<(SettleReservation, SettleScene)>,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for Review {
    const NAME: &'static str = "residents.review";
    type Valid = ValidReview;
    type Loaded = ReviewScene;
    type Output = Submission;

    fn validate(&self, _now: Timestamp) -> Result<ValidReview, ValidationErrors> {
        let mut v = Validator::new();
        let reason = match self.action {
            ReviewAction::Reject => v.text("reason", self.reason.as_deref(), REASON),
            _ => None,
        };
        let mut flagged = Vec::new();
        if self.action == ReviewAction::RequestRevision {
            if self.flagged_fields.is_empty() {
                v.push("flagged_fields", Violation::TooFew { min: 1 });
            }
            for (i, f) in self.flagged_fields.iter().enumerate() {
                if !PROFILE_FIELDS.contains(&f.as_str()) {
                    v.push(
                        &format!("flagged_fields[{i}]"),
                        Violation::NotAllowed { allowed: PROFILE_FIELDS.iter().map(|s| (*s).to_owned()).collect() },
                    );
                } else if flagged.contains(f) {
                    v.push(&format!("flagged_fields[{i}]"), Violation::Duplicate);
                } else {
                    flagged.push(f.clone());
                }
            }
        }
        if self.action == ReviewAction::Resubmit {
            v.push(
                "action",
                Violation::NotAllowed {
                    allowed: vec!["claim".into(), "approve".into(), "reject".into(), "request_revision".into()],
                },
            );
        }
        v.finish(|| Some(ValidReview { reason, flagged }))
    }
    async fn load(&self, store: &dyn Reader, actor: &Actor, _: &ValidReview) -> Result<ReviewScene, Error> {
        let caller = match actor.user_id() {
            Some(u) => stored_roles(store, u).await?,
            None => StoredRoles::default(),
        };
        let submission = store.submission(self.submission_id).await?;
        let (standing, settle) = match (&submission, self.action) {
            (Some(sub), ReviewAction::Approve) => {
                let standing = store.resident_standing(sub.value.user_id).await?;
                let settle = match store.resident_profile(sub.value.user_id).await? {
                    Some(p) => {
                        let cmd = SettleReservation { reservation_id: p.value.reservation_id, settle: Settle::Approve };
                        let scene = cmd.load(store, actor, &()).await?;
                        Some((cmd, scene))
                    }
                    None => None,
                };
                (standing, settle)
            }
            (Some(sub), _) => (store.resident_standing(sub.value.user_id).await?, None),
            _ => (None, None),
        };
        Ok(ReviewScene { caller, submission, standing, settle })
    }
    fn decide(&self, actor: &Actor, v: &ValidReview, s: ReviewScene, cx: &mut Decide<'_>) -> Result<Submission, Error> {
        // The caller's stored roles decide, not their token's claims (§14 B).
        let me = acting_as(actor, &s.caller);
        let actor = &me;
        let scope = match &s.submission {
            Some(sub) if actor.is(sub.value.user_id) => Scope::Own,
            _ => Scope::Other,
        };
        let visible = s.submission.is_some() && permits(actor, ResidentAction::ViewApplication, scope);
        require_visible(actor, visible, "onboarding submission")?;
        let before = s.submission.ok_or_else(|| Error::not_found("onboarding submission"))?;
        let (action, reason) = match self.action {
            ReviewAction::Claim => (ResidentAction::Claim, "only admins review onboarding, never their own"),
            _ => (ResidentAction::Decide, "only admins review onboarding, never their own"),
        };
        require(actor, Decision::when(permits(actor, action, scope), reason))?;
        // A second admin claiming a claimed submission lost the race: `conflict`, the true reason.
        if self.action == ReviewAction::Claim && before.value.status == S::UnderReview {
            return Err(Error::conflict("another admin is already reviewing this submission"));
        }
        let mut relations = Vec::new();
        if before.value.status == S::UnderReview && before.value.reviewer.is_some_and(|r| actor.is(r)) {
            relations.push(SubmissionRelation::Reviewer);
        }
        let to = APPROVAL.fire(before.value.status, self.action, &held_parties(actor, &relations), &())?;
        let now = cx.now();
        let mut after = before.value.clone();
        after.status = to;
        after.updated_at = now;
        match self.action {
            ReviewAction::Claim => after.reviewer = actor.user_id(),
            ReviewAction::Reject => after.reason = v.reason.clone(),
            ReviewAction::RequestRevision => after.flagged_fields = v.flagged.clone(),
            _ => {}
        }
        cx.update(&before, after.clone(), self.action.as_str())?;
        let standing = s.standing.ok_or_else(|| Error::internal("the applicant has no standing"))?;
        let mut st = standing.value.clone();
        st.submission = Some(to);
        st.updated_at = now;
        let subject = after.entity_ref();
        let user = after.user_id;
        match self.action {
            ReviewAction::Approve => {
                // One commit: role → resident, kyc_complete, the bed confirmed, the welcome.
                st.role = ResidentRole::Resident;
                st.kyc_complete = true;
                let (cmd, scene) = s.settle.ok_or_else(|| Error::internal("the applicant has no profile"))?;
                cmd.decide(actor, &(), scene, cx)?;
                notify(
                    cx,
                    NewNotification {
                        recipient: Recipient::User(user),
                        kind: "onboarding.approved",
                        title: "Welcome to Viramah",
                        body: "Your onboarding is approved; your room is confirmed.",
                        subject,
                    },
                )?;
            }
            ReviewAction::Reject => {
                let body = v.reason.clone().unwrap_or_default();
                notify(
                    cx,
                    NewNotification {
                        recipient: Recipient::User(user),
                        kind: "onboarding.rejected",
                        title: "Your onboarding was not approved",
                        body: &body,
                        subject,
                    },
                )?;
            }
            ReviewAction::RequestRevision => {
                let body = format!("Please correct: {}", v.flagged.join(", "));
                notify(
                    cx,
                    NewNotification {
                        recipient: Recipient::User(user),
                        kind: "onboarding.needs_revision",
                        title: "Some details need a correction",
                        body: &body,
                        subject,
                    },
                )?;
            }
            _ => {}
        }
        cx.update(&standing, st, self.action.as_str())?;
        Ok(after)
    }
}
