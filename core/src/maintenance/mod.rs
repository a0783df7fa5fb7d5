//! Maintenance requests (Viramah §10, §11): residents raise requests in a category and issue type
//! (data, not code), staff claim and work them through the §10 state machine, admins reassign and
//! override, and a sweep escalates SLA breaches.
//!
//! - **Reference ids** `MR-0001…` are gap-free per hostel: a per-hostel counter row is read and
//!   written (versioned) in the same commit as the request, so racing submissions serialize on it;
//!   each lost attempt means another submission committed, so [`SubmitRequest`] may decide again up
//!   to [`SUBMIT_ATTEMPTS`] times. The daily limit per resident is a rate-limit take
//!   ([`crate::limits::MAINTENANCE_REQUESTS`]) in the same commit.
//! - **Every transition** updates the request and appends its immutable status-history row
//!   (`from`, `to`, `changed_by` user or `system`, `note`) in one commit.
//! - **One active assignment** per request: a partial unique index, and the request's version.
//! - **Residents never see staff**: the request row has no staff field; assignments, history and
//!   staff-only comments are readable by staff only, and residents read [`ResidentRequestView`].
//! - **Who may do what** is the matrix in [`access`]; **what may happen next** is [`MACHINE`].

use crate::actor::{Actor, Role, RoleFamily};
use crate::authz::Decision;
use crate::error::{Error, ErrorCode};
use crate::id::{IdSource, MaintenanceRecordId, MaintenanceRequestId, TenantId, UserId};
use crate::kernel::access::{require, require_visible};
use crate::kernel::entity::{EntityRef, Readers};
use crate::kernel::store::{Reader, Reads, Store, Versioned};
use crate::machine::{held_parties, FireError, Guard, Machine, Party, Row};
use crate::notifications::{notify, NewNotification, Recipient};
use crate::residents::{require_kyc, with_standing, ResidentStanding, ResidentStore};
use crate::service::{Command, Decide, Runner};
use crate::time::{Clock, Timestamp};
use crate::validate::{TextRule, ValidationErrors, Validator, Violation};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

pub mod access;
pub mod jobs;
pub mod reports;
pub mod signed;
mod store;
pub use access::{MaintenanceAction, Ownership};
pub use store::{MaintenanceStore, DOMAIN};

use crate::limits::{LimitState, Subject, MAINTENANCE_REQUESTS};
use access::permits;

/// Requests one resident may raise at once, and per day on average (Viramah §14 E: "Maintenance
/// request submission | 10 per user per day"): the burst of [`crate::limits::MAINTENANCE_REQUESTS`],
/// which takes it.
pub const REQUESTS_PER_DAY_MAX: u64 = 10;
/// Attachments per request (§14 E: "5 files per request, max 10 MB each").
pub const ATTACHMENTS_MAX: u32 = crate::limits::MAINTENANCE_ATTACHMENTS.max;
/// Largest attachment, in bytes (10 MB).
pub const ATTACHMENT_BYTES_MAX: i64 = 10 * 1024 * 1024;
/// Decisions a submission may take before `conflict`: at least the simultaneous submitters one
/// hostel expects (each lost attempt means another submission committed).
pub const SUBMIT_ATTEMPTS: u32 = 64;
/// Requests escalated per sweep.
pub const SWEEP_MAX: u32 = 500;
/// Issue types per category.
pub const ISSUE_TYPES_MAX: usize = 30;

/// A request's description.
pub const DESCRIPTION: TextRule = TextRule { min_chars: 1, max_chars: 2_000, multiline: true };
/// A comment.
pub const COMMENT: TextRule = TextRule { min_chars: 1, max_chars: 2_000, multiline: true };
/// A status note or a rejection reason.
pub const NOTE: TextRule = TextRule { min_chars: 3, max_chars: 500, multiline: true };
/// A category's display name.
pub const CATEGORY_NAME: TextRule = TextRule { min_chars: 2, max_chars: 60, multiline: false };

/// Content types an attachment may have (photos and videos).
pub const CONTENT_TYPES: &[&str] =
    &["image/jpeg", "image/png", "image/webp", "image/heic", "video/mp4", "video/quicktime"];

/// The categories of Viramah §10 "Supported Categories" with their issue types: what
/// [`Maintenance::install_default_categories`] writes. After that, categories are data.
pub const DEFAULT_CATEGORIES: &[(&str, &str, &[&str])] = &[
    ("electricity", "Electricity", &["power_outlet", "lighting", "fan", "switch", "breaker_tripping"]),
    ("plumber", "Plumber", &["tap", "pipe", "drainage", "water_supply", "hot_water"]),
    ("wifi", "WiFi / Internet", &["connectivity", "router", "slow_speed", "network_drop"]),
    ("housekeeping", "Housekeeping", &["room_cleaning", "linen_replacement", "pest_control", "waste_collection"]),
    ("carpentry", "Carpentry", &["furniture", "door", "window", "lock", "wardrobe"]),
    ("ac_heating", "AC / Heating", &["air_conditioning", "heating", "ventilation"]),
    ("security_lock", "Security / Lock", &["door_lock", "key", "access_card"]),
    ("other", "Other", &["other"]),
];

crate::homeheroes::model::wire_enum!(
    /// How urgent a request is.
    Priority { Normal = "normal", High = "high" }
);

impl Priority {
    /// The SLA's target resolution time, in hours (§10 "Priority & SLA Tracking").
    pub fn target_hours(self) -> i64 {
        match self {
            Priority::High => 4,
            Priority::Normal => 24,
        }
    }
    /// Hours after submission at which an unresolved request escalates to admins.
    pub fn escalation_hours(self) -> i64 {
        match self {
            Priority::High => 6,
            Priority::Normal => 36,
        }
    }
}

crate::homeheroes::model::wire_enum!(
    /// A request's state (§10 "Request Lifecycle State Machine").
    Status {
        Submitted = "submitted",
        /// No staff available yet.
        Unassigned = "unassigned",
        Assigned = "assigned",
        InProgress = "in_progress",
        /// Parts or access needed.
        OnHold = "on_hold",
        /// Past its escalation trigger, unresolved: admins are on it.
        Escalated = "escalated",
        Resolved = "resolved",
        /// With a reason.
        Rejected = "rejected",
    }
);

impl Status {
    /// Resolved and rejected are final.
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Resolved | Status::Rejected)
    }
}

crate::homeheroes::model::wire_enum!(
    /// What may happen to a request.
    Transition {
        MarkUnassigned = "mark_unassigned",
        Claim = "claim",
        Assign = "assign",
        Reassign = "reassign",
        Start = "start",
        Hold = "hold",
        Resolve = "resolve",
        Reject = "reject",
        Escalate = "escalate",
    }
);

crate::homeheroes::model::wire_enum!(
    /// The relation the machine knows besides roles.
    Relation { Assignee = "assignee" }
);

crate::homeheroes::model::wire_enum!(
    /// Whom a signed attachment link is for.
    Audience { Staff = "staff", Resident = "resident" }
);

/// What the machine's guards look at.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    /// The request has an active assignment.
    pub assigned: bool,
    /// Now is at or past the request's escalation trigger.
    pub breached: bool,
    /// It was escalated before (each breach escalates once).
    pub escalated_before: bool,
}

const ADMIN: Party<Relation> = Party::Family(RoleFamily::Admin);
const ASSIGNEE_OR_ADMIN: &[Party<Relation>] = &[Party::Relation(Relation::Assignee), ADMIN];
const OPEN_UNASSIGNED: &[Status] = &[Status::Submitted, Status::Unassigned, Status::Escalated];

fn unassigned(f: &Facts) -> bool {
    !f.assigned
}
fn assigned(f: &Facts) -> bool {
    f.assigned
}
fn breached_once(f: &Facts) -> bool {
    f.breached && !f.escalated_before
}

/// The §10 lifecycle as a table.
pub static MACHINE: Machine<Status, Transition, Relation, Facts> = Machine {
    name: "maintenance request",
    rows: &[
        Row {
            from: &[Status::Submitted],
            action: Transition::MarkUnassigned,
            to: Status::Unassigned,
            parties: &[ADMIN, Party::System],
            guard: None,
        },
        Row {
            from: OPEN_UNASSIGNED,
            action: Transition::Claim,
            to: Status::Assigned,
            parties: &[Party::Role(Role::MaintenanceStaff)],
            guard: Some(Guard { name: "no_active_assignment", check: unassigned }),
        },
        Row {
            from: OPEN_UNASSIGNED,
            action: Transition::Assign,
            to: Status::Assigned,
            parties: &[ADMIN],
            guard: Some(Guard { name: "no_active_assignment", check: unassigned }),
        },
        Row {
            from: &[Status::Assigned, Status::InProgress, Status::OnHold, Status::Escalated],
            action: Transition::Reassign,
            to: Status::Assigned,
            parties: &[ADMIN],
            guard: Some(Guard { name: "has_active_assignment", check: assigned }),
        },
        Row {
            from: &[Status::Assigned, Status::OnHold, Status::Escalated],
            action: Transition::Start,
            to: Status::InProgress,
            parties: ASSIGNEE_OR_ADMIN,
            guard: Some(Guard { name: "has_active_assignment", check: assigned }),
        },
        Row {
            from: &[Status::Assigned, Status::InProgress],
            action: Transition::Hold,
            to: Status::OnHold,
            parties: ASSIGNEE_OR_ADMIN,
            guard: None,
        },
        Row {
            from: &[Status::Assigned, Status::InProgress, Status::OnHold, Status::Escalated],
            action: Transition::Resolve,
            to: Status::Resolved,
            parties: ASSIGNEE_OR_ADMIN,
            guard: None,
        },
        Row {
            from: &[
                Status::Submitted,
                Status::Unassigned,
                Status::Assigned,
                Status::InProgress,
                Status::OnHold,
                Status::Escalated,
            ],
            action: Transition::Reject,
            to: Status::Rejected,
            parties: &[ADMIN],
            guard: None,
        },
        Row {
            from: &[Status::Submitted, Status::Unassigned, Status::Assigned, Status::InProgress, Status::OnHold],
            action: Transition::Escalate,
            to: Status::Escalated,
            parties: &[Party::System],
            guard: Some(Guard { name: "sla_breached_once", check: breached_once }),
        },
    ],
};

/// A category of issues, with its issue types (data: admins define them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    /// Derived from the code.
    pub id: Uuid,
    /// Stable code (`plumber`).
    pub code: String,
    /// Display name.
    pub name: String,
    /// Issue type codes, in display order.
    pub issue_types: Vec<String>,
    /// When defined.
    pub created_at: Timestamp,
}

/// The id of the category with `code`: the same everywhere, so defining one twice collides.
pub fn category_id(code: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("hearth.maintenance.category:{code}").as_bytes())
}

/// A hostel's reference counter.
///
/// INVARIANT (gap-free): `issued` equals the number of requests of the hostel, whose numbers are
/// exactly 1..=issued; the counter is written in every submission's commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostelCounter {
    /// Derived from the hostel.
    pub id: Uuid,
    /// The hostel.
    pub hostel_id: TenantId,
    /// Reference numbers issued.
    pub issued: i64,
}

/// The id of `hostel`'s counter.
pub fn counter_id(hostel: TenantId) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("hearth.maintenance.counter:{}", hostel.as_uuid()).as_bytes())
}

/// `MR-0042`: at least four digits.
pub fn reference(number: i64) -> String {
    format!("MR-{number:04}")
}

/// A maintenance request as stored. It names no staff member: assignments are their own records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceRequest {
    /// Id.
    pub id: MaintenanceRequestId,
    /// The hostel.
    pub hostel_id: TenantId,
    /// Gap-free per hostel, from 1.
    pub number: i64,
    /// `MR-0001`.
    pub reference: String,
    /// The resident.
    pub user_id: UserId,
    /// Category code.
    pub category: String,
    /// Issue type code (one of the category's).
    pub issue_type: String,
    /// Free text.
    pub description: Option<String>,
    /// Priority.
    pub priority: Priority,
    /// State.
    pub status: Status,
    /// Why rejected.
    pub reject_reason: Option<String>,
    /// Attachments. INVARIANT (attachments): `0 <= attachments <= 5`, guarded.
    pub attachments: u32,
    /// When the sweep escalated it (once).
    pub escalated_at: Option<Timestamp>,
    /// When resolved.
    pub resolved_at: Option<Timestamp>,
    /// When submitted.
    pub created_at: Timestamp,
    /// When last changed.
    pub updated_at: Timestamp,
}

impl MaintenanceRequest {
    /// When the sweep escalates it if unresolved.
    pub fn escalates_at(&self) -> Option<Timestamp> {
        self.created_at.checked_add(chrono::Duration::hours(self.priority.escalation_hours()))
    }
}

/// A staff member's assignment to a request. At most one is active per request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// Id.
    pub id: MaintenanceRecordId,
    /// The request.
    pub request_id: MaintenanceRequestId,
    /// The staff member.
    pub staff_id: UserId,
    /// Current (a reassignment ends it).
    pub active: bool,
    /// Who assigned (the staff member on a claim).
    pub assigned_by: UserId,
    /// When.
    pub assigned_at: Timestamp,
    /// When a reassignment ended it.
    pub ended_at: Option<Timestamp>,
}

/// One immutable status-history row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// Id.
    pub id: MaintenanceRecordId,
    /// The request.
    pub request_id: MaintenanceRequestId,
    /// 1 for the submission, then the request's version after the change.
    pub position: i64,
    /// `None` for the submission.
    pub from_status: Option<Status>,
    /// The new state.
    pub to_status: Status,
    /// A user id, or `system`.
    pub changed_by: String,
    /// A note (the rejection reason, the reassignment…).
    pub note: Option<String>,
    /// When.
    pub changed_at: Timestamp,
}

/// A comment on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// Id.
    pub id: MaintenanceRecordId,
    /// The request.
    pub request_id: MaintenanceRequestId,
    /// The request's resident (who may read it unless staff-only).
    pub resident_id: UserId,
    /// Who wrote it.
    pub author_id: UserId,
    /// Written by staff or an admin.
    pub from_staff: bool,
    /// Hidden from the resident.
    pub staff_only: bool,
    /// Text.
    pub body: String,
    /// When.
    pub created_at: Timestamp,
}

/// An attachment: a storage path (never a URL) with its content type and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Id.
    pub id: MaintenanceRecordId,
    /// The request.
    pub request_id: MaintenanceRequestId,
    /// The resident who uploaded it.
    pub resident_id: UserId,
    /// Path in the private bucket.
    pub path: String,
    /// MIME type.
    pub content_type: String,
    /// Bytes.
    pub size_bytes: i64,
    /// When.
    pub created_at: Timestamp,
}

/// An attachment as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AttachmentInput {
    /// Storage path.
    pub path: Option<String>,
    /// MIME type.
    pub content_type: Option<String>,
    /// Bytes.
    pub size_bytes: Option<i64>,
}

/// A checked attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidAttachment {
    path: String,
    content_type: String,
    size_bytes: i64,
}

/// A storage path: `a/b/c.jpg` — letters, digits, `.`, `_`, `-` and `/` separators; no empty or
/// dot segments, no scheme, at most 255 bytes. URLs are refused.
pub fn check_storage_path(path: &str) -> Result<(), Violation> {
    let shape = Violation::InvalidFormat { expected: "storage_path".into() };
    if path.is_empty() || path.len() > 255 {
        return Err(shape);
    }
    let ok_chars = path.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'));
    let ok_segments = path.split('/').all(|s| !s.is_empty() && s != "." && s != "..");
    if ok_chars && ok_segments {
        Ok(())
    } else {
        Err(shape)
    }
}

fn check_code(v: &mut Validator, field: &str, raw: Option<&str>) -> Option<String> {
    let Some(raw) = raw else {
        v.push(field, Violation::Required);
        return None;
    };
    let code = raw.trim();
    let ok = (2..=40).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && code.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    if ok {
        Some(code.to_owned())
    } else {
        v.push(field, Violation::InvalidFormat { expected: "code".into() });
        None
    }
}

impl AttachmentInput {
    fn check(&self, v: &mut Validator, prefix: &str) -> Option<ValidAttachment> {
        let path = match self.path.as_deref().map(str::trim) {
            None | Some("") => {
                v.push(&format!("{prefix}.path"), Violation::Required);
                None
            }
            Some(p) => match check_storage_path(p) {
                Ok(()) => Some(p.to_owned()),
                Err(e) => {
                    v.push(&format!("{prefix}.path"), e);
                    None
                }
            },
        };
        let options: Vec<(&str, &str)> = CONTENT_TYPES.iter().map(|c| (*c, *c)).collect();
        let content_type = v.one_of(&format!("{prefix}.content_type"), self.content_type.as_deref(), &options);
        let size = v.int_range(&format!("{prefix}.size_bytes"), self.size_bytes, 1, ATTACHMENT_BYTES_MAX);
        Some(ValidAttachment { path: path?, content_type: content_type?.to_owned(), size_bytes: size? })
    }
}

fn attachment_of(request: &MaintenanceRequest, a: &ValidAttachment, cx: &Decide<'_>) -> Attachment {
    Attachment {
        id: MaintenanceRecordId::generate(cx.ids()),
        request_id: request.id,
        resident_id: request.user_id,
        path: a.path.clone(),
        content_type: a.content_type.clone(),
        size_bytes: a.size_bytes,
        created_at: cx.now(),
    }
}

/// How `actor` stands toward `request` whose active assignee is `assignee`.
pub fn ownership(actor: &Actor, hostel: TenantId, owner: Option<UserId>, assignee: Option<UserId>) -> Ownership {
    match actor.user_id() {
        Some(u) if owner == Some(u) => Ownership::Own,
        Some(u) if assignee == Some(u) => Ownership::Assigned,
        Some(_) if actor.tenant_id() == Some(hostel) => Ownership::Hostel,
        _ => Ownership::Outside,
    }
}

/// The caller's relation, or `not_found` when they may not see the request at all.
fn visible(actor: &Actor, r: &MaintenanceRequest, assignee: Option<UserId>) -> Result<Ownership, Error> {
    let o = ownership(actor, r.hostel_id, Some(r.user_id), assignee);
    let sees = matches!(actor, Actor::System) || permits(actor, MaintenanceAction::ViewRequest, o);
    require_visible(actor, sees, "maintenance request")?;
    Ok(o)
}

fn may(actor: &Actor, action: MaintenanceAction, o: Ownership, reason: &'static str) -> Result<(), Error> {
    require(actor, Decision::when(permits(actor, action, o), reason))
}

/// Defines a category with its issue types (admins).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DefineCategory {
    /// Code.
    pub code: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Issue type codes.
    pub issue_types: Option<Vec<String>>,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for DefineCategory {
    const NAME: &'static str = "maintenance.define_category";
    const READS: Reads = Reads::One;
    type Valid = (String, String, Vec<String>);
    type Loaded = Option<Versioned<Category>>;
    type Output = Category;

    fn validate(&self, _now: Timestamp) -> Result<Self::Valid, ValidationErrors> {
        let mut v = Validator::new();
        let code = check_code(&mut v, "code", self.code.as_deref());
        let name = v.text("name", self.name.as_deref(), CATEGORY_NAME);
        let mut types = Vec::new();
        match &self.issue_types {
            None => v.push("issue_types", Violation::Required),
            Some(list) if list.is_empty() => v.push("issue_types", Violation::TooFew { min: 1 }),
            Some(list) if list.len() > ISSUE_TYPES_MAX => {
                v.push("issue_types", Violation::TooMany { max: ISSUE_TYPES_MAX as u32 })
            }
            Some(list) => {
                for (i, t) in list.iter().enumerate() {
                    let field = format!("issue_types[{i}]");
                    if let Some(t) = check_code(&mut v, &field, Some(t)) {
                        if types.contains(&t) {
                            v.push(&field, Violation::Duplicate);
                        } else {
                            types.push(t);
                        }
                    }
                }
            }
        }
        v.finish(|| Some((code?, name?, types)))
    }
    async fn load(&self, store: &dyn Reader, _: &Actor, valid: &Self::Valid) -> Result<Self::Loaded, Error> {
        Ok(store.category(&valid.0).await?)
    }
    fn decide(
        &self,
        actor: &Actor,
        (code, name, types): &Self::Valid,
        existing: Self::Loaded,
        cx: &mut Decide<'_>,
    ) -> Result<Category, Error> {
        require(actor, Decision::when(actor.is_admin(), "only admins define maintenance categories"))?;
        if existing.is_some() {
            return Err(Error::conflict(format!("category `{code}` already exists")));
        }
        let c = Category {
            id: category_id(code),
            code: code.clone(),
            name: name.clone(),
            issue_types: types.clone(),
            created_at: cx.now(),
        };
        cx.insert(c.clone())?;
        Ok(c)
    }
}

/// A resident raises a request in their hostel (the session's tenant).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SubmitRequest {
    /// Category code.
    pub category: Option<String>,
    /// Issue type code.
    pub issue_type: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// `normal` (default) or `high`.
    pub priority: Option<String>,
    /// Up to five photos or videos.
    pub attachments: Vec<AttachmentInput>,
}

/// A checked submission.
#[derive(Debug, Clone)]
pub struct ValidSubmission {
    category: String,
    issue_type: String,
    description: Option<String>,
    priority: Priority,
    attachments: Vec<ValidAttachment>,
}

/// What a submission reads.
pub struct SubmitScene {
    counter: Option<Versioned<HostelCounter>>,
    category: Option<Versioned<Category>>,
    /// The resident's submission bucket ([`crate::limits::MAINTENANCE_REQUESTS`]).
    limit: Option<LimitState>,
    standing: Option<Versioned<ResidentStanding>>,
}

impl SubmitRequest {
    /// Validates against `now`, without a store.
    pub fn check(&self, _now: Timestamp) -> Result<ValidSubmission, ValidationErrors> {
        let mut v = Validator::new();
        let category = check_code(&mut v, "category", self.category.as_deref());
        let issue_type = check_code(&mut v, "issue_type", self.issue_type.as_deref());
        let description = v.optional_text("description", self.description.as_deref(), DESCRIPTION);
        let priority = match self.priority.as_deref() {
            None => Some(Priority::Normal),
            raw => v.one_of("priority", raw, Priority::OPTIONS),
        };
        let mut attachments = Vec::new();
        if self.attachments.len() > ATTACHMENTS_MAX as usize {
            v.push("attachments", Violation::TooMany { max: ATTACHMENTS_MAX });
        } else {
            for (i, a) in self.attachments.iter().enumerate() {
                if let Some(a) = a.check(&mut v, &format!("attachments[{i}]")) {
                    attachments.push(a);
                }
            }
        }
        v.finish(|| {
            Some(ValidSubmission {
                category: category?,
                issue_type: issue_type?,
                description: description?,
                priority: priority?,
                attachments,
            })
        })
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for SubmitRequest {
    const NAME: &'static str = "maintenance.submit";
    const COMMIT_ATTEMPTS: u32 = SUBMIT_ATTEMPTS;
    type Valid = ValidSubmission;
    type Loaded = SubmitScene;
    type Output = MaintenanceRequest;

    fn validate(&self, now: Timestamp) -> Result<ValidSubmission, ValidationErrors> {
        self.check(now)
    }
    async fn load(&self, store: &dyn Reader, actor: &Actor, valid: &ValidSubmission) -> Result<SubmitScene, Error> {
        let Some(user) = actor.user_id() else {
            return Ok(SubmitScene { counter: None, category: None, limit: None, standing: None });
        };
        let standing = store.resident_standing(user).await?;
        let Some(hostel) = actor.tenant_id() else {
            return Ok(SubmitScene { counter: None, category: None, limit: None, standing });
        };
        Ok(SubmitScene {
            counter: store.hostel_counter(hostel).await?,
            category: store.category(&valid.category).await?,
            limit: Some(MAINTENANCE_REQUESTS.limit(Subject::User(user))?.load(store).await?),
            standing,
        })
    }
    fn decide(
        &self,
        actor: &Actor,
        valid: &ValidSubmission,
        scene: SubmitScene,
        cx: &mut Decide<'_>,
    ) -> Result<MaintenanceRequest, Error> {
        let actor = &as_stored(actor, scene.standing.as_ref());
        may(actor, MaintenanceAction::Submit, Ownership::Own, "only residents raise maintenance requests")?;
        // The KYC gate (Viramah §3): approved, KYC complete, role resident — from the stored standing.
        require_kyc(actor, scene.standing.as_ref().map(|s| &s.value))?;
        let user = actor.user_id().ok_or_else(Error::unauthenticated)?;
        let hostel = actor.tenant_id().ok_or_else(|| Error::precondition("the session names no hostel"))?;
        // Staff-wide readers of everything this decision emits are the hostel's staff.
        cx.scope_events_to(hostel);
        let category = match scene.category {
            Some(c) => c.value,
            None => {
                let allowed = vec!["a defined category".to_owned()];
                return Err(ValidationErrors::single("category", Violation::NotAllowed { allowed }).into());
            }
        };
        if !category.issue_types.contains(&valid.issue_type) {
            let allowed = category.issue_types.clone();
            return Err(ValidationErrors::single("issue_type", Violation::NotAllowed { allowed }).into());
        }
        // Viramah §14 E: 10 per user per day, taken in this commit (`crate::limits`).
        scene.limit.ok_or_else(Error::unauthenticated)?.take(cx)?;
        let number = match &scene.counter {
            Some(c) => {
                let mut next = c.value.clone();
                next.issued += 1;
                cx.update(c, next.clone(), "issue")?;
                next.issued
            }
            None => {
                cx.insert(HostelCounter { id: counter_id(hostel), hostel_id: hostel, issued: 1 })?;
                1
            }
        };
        let request = MaintenanceRequest {
            id: MaintenanceRequestId::generate(cx.ids()),
            hostel_id: hostel,
            number,
            reference: reference(number),
            user_id: user,
            category: category.code,
            issue_type: valid.issue_type.clone(),
            description: valid.description.clone(),
            priority: valid.priority,
            status: Status::Submitted,
            reject_reason: None,
            attachments: valid.attachments.len() as u32,
            escalated_at: None,
            resolved_at: None,
            created_at: cx.now(),
            updated_at: cx.now(),
        };
        cx.insert(request.clone())?;
        cx.append(StatusChange {
            id: MaintenanceRecordId::generate(cx.ids()),
            request_id: request.id,
            position: 1,
            from_status: None,
            to_status: Status::Submitted,
            changed_by: user.to_string(),
            note: None,
            changed_at: cx.now(),
        })?;
        for a in &valid.attachments {
            let a = attachment_of(&request, a, cx);
            cx.append(a)?;
        }
        // Viramah §10 step 8: "Resident receives an in-app notification confirming submission".
        notify(
            cx,
            NewNotification {
                recipient: Recipient::User(user),
                kind: "maintenance.submitted",
                title: &format!("{} received", request.reference),
                body: "Your maintenance request was received; we will keep you posted here.",
                subject: request_ref(&request),
            },
        )?;
        Ok(request)
    }
}

/// Moves a request through the machine: claim, assign, reassign, start, hold, resolve, reject,
/// mark unassigned, escalate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRequest {
    /// The request.
    pub request_id: MaintenanceRequestId,
    /// What to do.
    pub action: Transition,
    /// The staff member, for `assign` and `reassign`.
    #[serde(default)]
    pub staff_id: Option<UserId>,
    /// A note; required for `reject` (its reason).
    #[serde(default)]
    pub note: Option<String>,
}

/// What a change reads.
pub struct ChangeScene {
    request: Option<Versioned<MaintenanceRequest>>,
    assignment: Option<Versioned<Assignment>>,
    standing: Option<Versioned<ResidentStanding>>,
}

fn request_ref(r: &MaintenanceRequest) -> EntityRef {
    crate::kernel::entity::Entity::entity_ref(r)
}

/// The caller's standing when they own `request` (the resident's actions need it; staff's do not).
async fn standing_of(
    store: &dyn Reader,
    actor: &Actor,
    request: Option<&Versioned<MaintenanceRequest>>,
) -> Result<Option<Versioned<ResidentStanding>>, Error> {
    match (actor.user_id(), request) {
        (Some(u), Some(r)) if r.value.user_id == u => Ok(store.resident_standing(u).await?),
        _ => Ok(None),
    }
}

/// The caller, counted as a resident when their stored standing says so (an approved resident
/// whose token still claims `pending_resident` is a resident: Viramah §3's gate reads the store).
fn as_stored(actor: &Actor, standing: Option<&Versioned<ResidentStanding>>) -> Actor {
    with_standing(actor, standing.map(|s| &s.value))
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for ChangeRequest {
    const NAME: &'static str = "maintenance.change";
    type Valid = Option<String>;
    type Loaded = ChangeScene;
    type Output = MaintenanceRequest;

    fn validate(&self, _now: Timestamp) -> Result<Option<String>, ValidationErrors> {
        let mut v = Validator::new();
        let note = if self.action == Transition::Reject {
            v.text("note", self.note.as_deref(), NOTE).map(Some)
        } else {
            v.optional_text("note", self.note.as_deref(), NOTE)
        };
        let needs_staff = matches!(self.action, Transition::Assign | Transition::Reassign);
        if needs_staff && self.staff_id.is_none() {
            v.push("staff_id", Violation::Required);
        }
        v.finish(|| note)
    }
    async fn load(&self, store: &dyn Reader, _: &Actor, _: &Option<String>) -> Result<ChangeScene, Error> {
        Ok(ChangeScene {
            request: store.maintenance_request(self.request_id).await?,
            assignment: store.active_assignment(self.request_id).await?,
            standing: None,
        })
    }
    fn decide(
        &self,
        actor: &Actor,
        note: &Option<String>,
        scene: ChangeScene,
        cx: &mut Decide<'_>,
    ) -> Result<MaintenanceRequest, Error> {
        let before = scene.request.ok_or_else(|| Error::not_found("maintenance request"))?;
        let r = &before.value;
        cx.scope_events_to(r.hostel_id);
        let assignee = scene.assignment.as_ref().map(|a| a.value.staff_id);
        let o = visible(actor, r, assignee)?;
        let action = match self.action {
            Transition::Claim => Some(MaintenanceAction::Claim),
            Transition::Assign | Transition::Reassign | Transition::MarkUnassigned => Some(MaintenanceAction::Assign),
            Transition::Start | Transition::Hold | Transition::Resolve => Some(MaintenanceAction::ChangeStatus),
            Transition::Reject => Some(MaintenanceAction::Reject),
            Transition::Escalate => None,
        };
        if let Some(action) = action {
            if !matches!(actor, Actor::System) {
                may(actor, action, o, "maintenance staff may change only requests assigned to them")?;
            }
        }
        let facts = Facts {
            assigned: assignee.is_some(),
            breached: r.escalates_at().is_some_and(|at| cx.now() >= at),
            escalated_before: r.escalated_at.is_some(),
        };
        if self.action == Transition::Claim && facts.assigned && r.status.is_open() {
            // Someone else took it first: the claimer lost a race, whenever they read.
            return Err(Error::conflict("the request is already claimed"));
        }
        let relations: &[Relation] = if o == Ownership::Assigned { &[Relation::Assignee] } else { &[] };
        let to = MACHINE.fire(r.status, self.action, &held_parties(actor, relations), &facts).map_err(|e| match e {
            FireError::Forbidden(m) => Error::forbidden(m),
            FireError::Invalid(t) => t.into(),
        })?;
        let by = actor.user_id();
        match self.action {
            Transition::Claim | Transition::Assign | Transition::Reassign => {
                let staff = match self.action {
                    Transition::Claim => by.ok_or_else(Error::unauthenticated)?,
                    _ => self.staff_id.ok_or_else(|| Error::internal("validated staff id missing"))?,
                };
                if let Some(current) = &scene.assignment {
                    if current.value.staff_id == staff {
                        return Err(Error::conflict("the request is already assigned to this staff member"));
                    }
                    let mut ended = current.value.clone();
                    ended.active = false;
                    ended.ended_at = Some(cx.now());
                    cx.update(current, ended, "end")?;
                }
                cx.insert(Assignment {
                    id: MaintenanceRecordId::generate(cx.ids()),
                    request_id: r.id,
                    staff_id: staff,
                    active: true,
                    assigned_by: by.ok_or_else(Error::unauthenticated)?,
                    assigned_at: cx.now(),
                    ended_at: None,
                })?;
            }
            _ => {}
        }
        let mut after = r.clone();
        after.status = to;
        after.updated_at = cx.now();
        match self.action {
            Transition::Resolve => after.resolved_at = Some(cx.now()),
            Transition::Reject => after.reject_reason = note.clone(),
            Transition::Escalate => after.escalated_at = Some(cx.now()),
            _ => {}
        }
        cx.update(&before, after.clone(), self.action.as_str())?;
        cx.append(StatusChange {
            id: MaintenanceRecordId::generate(cx.ids()),
            request_id: r.id,
            position: i64::try_from(before.version).unwrap_or(i64::MAX).saturating_add(1),
            from_status: Some(r.status),
            to_status: to,
            changed_by: cx.actor_principal(),
            note: note.clone(),
            changed_at: cx.now(),
        })?;
        match self.action {
            // Viramah §10: "An escalation notification is sent to the ADMIN role" — one shared inbox
            // record per breach, in the escalation's commit.
            Transition::Escalate => {
                notify(
                    cx,
                    NewNotification {
                        recipient: Recipient::Role(Role::Admin),
                        kind: "maintenance.escalated",
                        title: &format!("{} breached its SLA", r.reference),
                        body: &format!(
                            "A {} priority {} request has been unresolved for {} hours.",
                            r.priority,
                            r.category,
                            r.priority.escalation_hours()
                        ),
                        subject: request_ref(r),
                    },
                )?;
            }
            // §10 step 8 of the portal flow: "Resident receives a push/in-app notification that the
            // request is resolved" (no staff identity in it).
            Transition::Resolve => {
                notify(
                    cx,
                    NewNotification {
                        recipient: Recipient::User(r.user_id),
                        kind: "maintenance.resolved",
                        title: &format!("{} resolved", r.reference),
                        body: "Your maintenance request was resolved.",
                        subject: request_ref(r),
                    },
                )?;
            }
            _ => {}
        }
        Ok(after)
    }
}

/// A comment by the resident or staff (staff may mark it staff-only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddComment {
    /// The request.
    pub request_id: MaintenanceRequestId,
    /// Text.
    pub body: Option<String>,
    /// Hidden from the resident (staff only).
    #[serde(default)]
    pub staff_only: bool,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for AddComment {
    const NAME: &'static str = "maintenance.comment";
    type Valid = String;
    type Loaded = ChangeScene;
    type Output = Comment;

    fn validate(&self, _now: Timestamp) -> Result<String, ValidationErrors> {
        let mut v = Validator::new();
        let body = v.text("body", self.body.as_deref(), COMMENT);
        v.finish(|| body)
    }
    async fn load(&self, store: &dyn Reader, actor: &Actor, _: &String) -> Result<ChangeScene, Error> {
        let request = store.maintenance_request(self.request_id).await?;
        Ok(ChangeScene {
            standing: standing_of(store, actor, request.as_ref()).await?,
            assignment: store.active_assignment(self.request_id).await?,
            request,
        })
    }
    fn decide(&self, actor: &Actor, body: &String, scene: ChangeScene, cx: &mut Decide<'_>) -> Result<Comment, Error> {
        let actor = &as_stored(actor, scene.standing.as_ref());
        let r = scene.request.ok_or_else(|| Error::not_found("maintenance request"))?.value;
        cx.scope_events_to(r.hostel_id);
        let o = visible(actor, &r, scene.assignment.map(|a| a.value.staff_id))?;
        let action = if self.staff_only { MaintenanceAction::CommentStaffOnly } else { MaintenanceAction::Comment };
        may(actor, action, o, "maintenance staff comment only on requests assigned to them")?;
        if o == Ownership::Own {
            require_kyc(actor, scene.standing.as_ref().map(|s| &s.value))?;
        }
        let comment = Comment {
            id: MaintenanceRecordId::generate(cx.ids()),
            request_id: r.id,
            resident_id: r.user_id,
            author_id: actor.user_id().ok_or_else(Error::unauthenticated)?,
            from_staff: o != Ownership::Own,
            staff_only: self.staff_only,
            body: body.clone(),
            created_at: cx.now(),
        };
        cx.append(comment.clone())?;
        if comment.from_staff && !comment.staff_only {
            // The resident hears of a staff comment without the staff member's identity.
            let view = serde_json::to_value(ResidentComment::of(&comment))
                .map_err(|e| Error::internal(format!("comment view: {e}")))?;
            let entity =
                EntityRef { kind: <Comment as crate::kernel::entity::Entity>::kind(), id: comment.id.as_uuid() };
            // Everyone who reads the thread reads this form too (the hostel's staff: the scope).
            let readers = Readers::users([r.user_id]).and_roles([Role::MaintenanceStaff]);
            cx.emit("maintenance.comment.for_resident", entity, view, readers);
        }
        Ok(comment)
    }
}

/// The resident adds a photo or video to an open request (at most five in all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddAttachment {
    /// The request.
    pub request_id: MaintenanceRequestId,
    /// The file.
    pub attachment: AttachmentInput,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for AddAttachment {
    const NAME: &'static str = "maintenance.attach";
    type Valid = ValidAttachment;
    type Loaded = (Option<Versioned<MaintenanceRequest>>, Option<Versioned<ResidentStanding>>);
    type Output = Attachment;

    fn validate(&self, _now: Timestamp) -> Result<ValidAttachment, ValidationErrors> {
        let mut v = Validator::new();
        let a = self.attachment.check(&mut v, "attachment");
        v.finish(|| a)
    }
    async fn load(&self, store: &dyn Reader, actor: &Actor, _: &ValidAttachment) -> Result<Self::Loaded, Error> {
        let request = store.maintenance_request(self.request_id).await?;
        let standing = standing_of(store, actor, request.as_ref()).await?;
        Ok((request, standing))
    }
    fn decide(
        &self,
        actor: &Actor,
        a: &ValidAttachment,
        (request, standing): Self::Loaded,
        cx: &mut Decide<'_>,
    ) -> Result<Attachment, Error> {
        let actor = &as_stored(actor, standing.as_ref());
        let r = request.ok_or_else(|| Error::not_found("maintenance request"))?.value;
        cx.scope_events_to(r.hostel_id);
        // Staff see the request but never attach; the assignee is irrelevant to this rule.
        let o = visible(actor, &r, None)?;
        may(actor, MaintenanceAction::AddAttachment, o, "only the resident attaches files to a request")?;
        require_kyc(actor, standing.as_ref().map(|s| &s.value))?;
        if !r.status.is_open() {
            return Err(Error::precondition("the request is closed"));
        }
        if r.attachments >= ATTACHMENTS_MAX {
            return Err(Error::new(
                ErrorCode::CapacityExhausted,
                format!("at most {ATTACHMENTS_MAX} attachments per request"),
            ));
        }
        let attachment = attachment_of(&r, a, cx);
        cx.append(attachment.clone())?;
        cx.delta::<MaintenanceRequest>(r.id.as_uuid(), &[("attachments", 1)])?;
        Ok(attachment)
    }
}

/// A comment as the resident sees it: no author, only whether staff wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentComment {
    /// Id.
    pub id: MaintenanceRecordId,
    /// Written by staff (else by the resident).
    pub from_staff: bool,
    /// Text.
    pub body: String,
    /// When.
    pub created_at: Timestamp,
}

impl ResidentComment {
    fn of(c: &Comment) -> Self {
        Self { id: c.id, from_staff: c.from_staff, body: c.body.clone(), created_at: c.created_at }
    }
}

/// A status change as the resident sees it: no `changed_by`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentStatusChange {
    /// From.
    pub from_status: Option<Status>,
    /// To.
    pub to_status: Status,
    /// When.
    pub changed_at: Timestamp,
}

/// A request as its resident sees it. It has no staff field at all: who is assigned, who changed
/// what and staff-only comments are not part of this type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentRequestView {
    /// Id.
    pub id: MaintenanceRequestId,
    /// `MR-0001`.
    pub reference: String,
    /// Category code.
    pub category: String,
    /// Issue type code.
    pub issue_type: String,
    /// Free text.
    pub description: Option<String>,
    /// Priority.
    pub priority: Priority,
    /// State.
    pub status: Status,
    /// Why rejected.
    pub reject_reason: Option<String>,
    /// When submitted.
    pub created_at: Timestamp,
    /// When resolved.
    pub resolved_at: Option<Timestamp>,
    /// The timeline.
    pub timeline: Vec<ResidentStatusChange>,
    /// Comments that are not staff-only.
    pub comments: Vec<ResidentComment>,
    /// Attachments.
    pub attachments: Vec<Attachment>,
}

/// A request as staff and admins see it: everything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffRequestView {
    /// The request.
    pub request: MaintenanceRequest,
    /// The active assignment.
    pub assignment: Option<Assignment>,
    /// Every status change.
    pub history: Vec<StatusChange>,
    /// Every comment.
    pub comments: Vec<Comment>,
    /// Attachments.
    pub attachments: Vec<Attachment>,
}

/// The maintenance service.
pub struct Maintenance<S> {
    runner: Runner<S>,
}

impl<S: Clone> Clone for Maintenance<S> {
    fn clone(&self) -> Self {
        Self { runner: self.runner.clone() }
    }
}

impl<S: Store> Maintenance<S> {
    /// The service over `store`.
    pub fn new(store: S, clock: Arc<dyn Clock>, ids: Arc<dyn IdSource>) -> Self {
        Self { runner: Runner::new(store, clock, ids) }
    }
    /// The runner.
    pub fn runner(&self) -> &Runner<S> {
        &self.runner
    }
    /// Defines a category.
    pub async fn define_category(
        &self,
        actor: &Actor,
        code: &str,
        name: &str,
        types: &[&str],
    ) -> Result<Category, Error> {
        let cmd = DefineCategory {
            code: Some(code.to_owned()),
            name: Some(name.to_owned()),
            issue_types: Some(types.iter().map(|t| (*t).to_owned()).collect()),
        };
        self.runner.execute(actor, None, &cmd).await
    }
    /// Defines the §10 categories that do not exist yet; returns those created.
    pub async fn install_default_categories(&self, actor: &Actor) -> Result<Vec<Category>, Error> {
        let mut created = Vec::new();
        for (code, name, types) in DEFAULT_CATEGORIES {
            match self.define_category(actor, code, name, types).await {
                Ok(c) => created.push(c),
                Err(e) if e.code == ErrorCode::Conflict => {}
                Err(e) => return Err(e),
            }
        }
        Ok(created)
    }
    /// Every category, by code.
    pub async fn categories(&self, actor: &Actor) -> Result<Vec<Category>, Error> {
        require(actor, Decision::when(actor.user_id().is_some(), "sign in to list categories"))?;
        Ok(self.runner.store().categories().await?)
    }
    /// Raises a request.
    pub async fn submit(&self, actor: &Actor, input: SubmitRequest) -> Result<MaintenanceRequest, Error> {
        self.runner.execute(actor, None, &input).await
    }
    /// Fires `action` on a request.
    pub async fn change(
        &self,
        actor: &Actor,
        request: MaintenanceRequestId,
        action: Transition,
        staff: Option<UserId>,
        note: Option<&str>,
    ) -> Result<MaintenanceRequest, Error> {
        let cmd = ChangeRequest { request_id: request, action, staff_id: staff, note: note.map(str::to_owned) };
        self.runner.execute(actor, None, &cmd).await
    }
    /// A staff member claims a request.
    pub async fn claim(&self, actor: &Actor, request: MaintenanceRequestId) -> Result<MaintenanceRequest, Error> {
        self.change(actor, request, Transition::Claim, None, None).await
    }
    /// Comments.
    pub async fn comment(
        &self,
        actor: &Actor,
        request: MaintenanceRequestId,
        body: &str,
        staff_only: bool,
    ) -> Result<Comment, Error> {
        self.runner
            .execute(actor, None, &AddComment { request_id: request, body: Some(body.to_owned()), staff_only })
            .await
    }
    /// Attaches a file.
    pub async fn attach(
        &self,
        actor: &Actor,
        request: MaintenanceRequestId,
        attachment: AttachmentInput,
    ) -> Result<Attachment, Error> {
        self.runner.execute(actor, None, &AddAttachment { request_id: request, attachment }).await
    }
    /// Escalates every open request past its trigger that was never escalated (the scheduled job).
    /// Safe to run concurrently and repeatedly: each breach escalates once, whoever sweeps.
    pub async fn escalate_overdue(&self, actor: &Actor) -> Result<Vec<MaintenanceRequestId>, Error> {
        require(actor, Decision::when(matches!(actor, Actor::System), "only the system sweeps SLA breaches"))?;
        let now = self.runner.now();
        let due = self.runner.store().escalation_candidates(now, SWEEP_MAX).await?;
        let mut done = Vec::new();
        for r in due {
            match self.change(actor, r.value.id, Transition::Escalate, None, Some("SLA breached")).await {
                Ok(_) => done.push(r.value.id),
                // Escalated (or closed) by a concurrent sweep or a person meanwhile.
                Err(e) if matches!(e.code, ErrorCode::InvalidTransition | ErrorCode::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    async fn load_visible(
        &self,
        actor: &Actor,
        id: MaintenanceRequestId,
    ) -> Result<(MaintenanceRequest, Option<Assignment>, Ownership, Actor), Error> {
        let view = self.runner.store().snapshot(Reads::Many).await?;
        let r = view.maintenance_request(id).await?.ok_or_else(|| Error::not_found("maintenance request"))?;
        let standing = standing_of(view.as_ref(), actor, Some(&r)).await?;
        let a = view.active_assignment(id).await?.map(|a| a.value);
        let me = as_stored(actor, standing.as_ref());
        let o = visible(&me, &r.value, a.as_ref().map(|a| a.staff_id))?;
        Ok((r.value, a, o, me))
    }

    /// The resident's view of their own request (no staff identity anywhere in it).
    pub async fn resident_view(&self, actor: &Actor, id: MaintenanceRequestId) -> Result<ResidentRequestView, Error> {
        let (r, _, o, _) = self.load_visible(actor, id).await?;
        require_visible(actor, o == Ownership::Own, "maintenance request")?;
        let store = self.runner.store();
        let timeline = store
            .status_history(id)
            .await?
            .into_iter()
            .map(|h| ResidentStatusChange {
                from_status: h.from_status,
                to_status: h.to_status,
                changed_at: h.changed_at,
            })
            .collect();
        let comments = store.comments(id).await?.iter().filter(|c| !c.staff_only).map(ResidentComment::of).collect();
        Ok(ResidentRequestView {
            id: r.id,
            reference: r.reference,
            category: r.category,
            issue_type: r.issue_type,
            description: r.description,
            priority: r.priority,
            status: r.status,
            reject_reason: r.reject_reason,
            created_at: r.created_at,
            resolved_at: r.resolved_at,
            timeline,
            comments,
            attachments: store.attachments(id).await?,
        })
    }

    /// The staff view of a request (staff of its hostel and admins).
    pub async fn staff_view(&self, actor: &Actor, id: MaintenanceRequestId) -> Result<StaffRequestView, Error> {
        let (request, assignment, o, me) = self.load_visible(actor, id).await?;
        may(&me, MaintenanceAction::ReadStaffRecords, o, "residents read their requests through the resident view")?;
        let store = self.runner.store();
        Ok(StaffRequestView {
            request,
            assignment,
            history: store.status_history(id).await?,
            comments: store.comments(id).await?,
            attachments: store.attachments(id).await?,
        })
    }

    /// The open requests of the caller's hostel, oldest first (staff and admins).
    pub async fn queue(&self, actor: &Actor, hostel: TenantId) -> Result<Vec<MaintenanceRequest>, Error> {
        let o = ownership(actor, hostel, None, None);
        may(actor, MaintenanceAction::ViewQueue, o, "only maintenance staff of the hostel and admins see its queue")?;
        Ok(self.runner.store().open_requests(hostel).await?)
    }

    /// A signed link to an attachment, for the caller (staff 30 minutes, the resident 15). `key` is
    /// the storage proxy's shared secret.
    pub async fn attachment_url(
        &self,
        actor: &Actor,
        attachment: MaintenanceRecordId,
        key: &[u8],
    ) -> Result<signed::SignedUrl, Error> {
        let a = self.runner.store().attachment(attachment).await?.ok_or_else(|| Error::not_found("attachment"))?;
        let (_, _, o, me) = self.load_visible(actor, a.request_id).await?;
        may(&me, MaintenanceAction::AttachmentUrl, o, "no access to this attachment")?;
        let audience = if o == Ownership::Own { Audience::Resident } else { Audience::Staff };
        signed::sign(key, &a.path, audience, self.runner.now())
    }

    /// The hostel's reports as of now, computed by the pure functions of [`reports`] over its
    /// history (admins).
    pub async fn report(&self, actor: &Actor, hostel: TenantId) -> Result<reports::Report, Error> {
        let o = ownership(actor, hostel, None, None);
        may(actor, MaintenanceAction::Reports, o, "only admins read maintenance reports")?;
        let data = self.runner.store().report_data(hostel).await?;
        Ok(reports::report(&data, self.runner.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_table_follows_the_seed_diagram() {
        // Viramah §10: "submitted → assigned → in_progress → resolved", "↘ unassigned (if no staff
        // available)", "↘ on_hold (parts/access needed)", "↘ escalated → resolved", "↘ rejected (with reason)".
        use Status as S;
        use Transition as T;
        let f = Facts { assigned: true, breached: true, escalated_before: false };
        for (from, action, to) in [
            (S::Submitted, T::MarkUnassigned, S::Unassigned),
            (S::InProgress, T::Resolve, S::Resolved),
            (S::Assigned, T::Start, S::InProgress),
            (S::InProgress, T::Hold, S::OnHold),
            (S::OnHold, T::Start, S::InProgress),
            (S::Escalated, T::Resolve, S::Resolved),
            (S::Escalated, T::Reject, S::Rejected),
            (S::InProgress, T::Escalate, S::Escalated),
        ] {
            assert!(MACHINE.permits(from, action, to), "{from} --{action}--> {to}");
        }
        for s in [S::Resolved, S::Rejected] {
            for (t, _) in Transition::ALL {
                assert!(MACHINE.fire(s, *t, &[Party::System, ADMIN], &f).is_err(), "{s} is final");
            }
        }
        let once = Facts { escalated_before: true, ..f };
        assert!(MACHINE.fire(S::Assigned, T::Escalate, &[Party::System], &once).is_err(), "each breach escalates once");
        let early = Facts { breached: false, ..f };
        assert!(MACHINE.fire(S::Assigned, T::Escalate, &[Party::System], &early).is_err());
    }

    #[test]
    fn storage_paths_are_not_urls() {
        assert!(check_storage_path("hostel-1/mr-0001/photo_1.jpg").is_ok());
        for bad in ["", "/abs/path.jpg", "https://x.example/a.jpg", "a/../b.jpg", "a//b.jpg", "a/b c.jpg", "a?b=1"] {
            assert!(check_storage_path(bad).is_err(), "{bad}");
        }
        assert_eq!(reference(7), "MR-0007");
        assert_eq!(reference(12_345), "MR-12345");
    }

    #[test]
    fn submissions_are_validated_field_by_field() {
        let now = Timestamp::parse_rfc3339("2026-06-01T12:00:00Z").unwrap();
        let too_big = AttachmentInput {
            path: Some("https://cdn.example/p.jpg".into()),
            content_type: Some("application/pdf".into()),
            size_bytes: Some(ATTACHMENT_BYTES_MAX + 1),
        };
        let bad = SubmitRequest {
            category: Some("Plumber!".into()),
            issue_type: None,
            description: Some("leak\u{202e}".into()),
            priority: Some("urgent".into()),
            attachments: vec![too_big],
        };
        let fields: Vec<String> = bad.check(now).unwrap_err().errors().iter().map(|e| e.field.clone()).collect();
        assert_eq!(
            fields,
            [
                "category",
                "issue_type",
                "description",
                "priority",
                "attachments[0].path",
                "attachments[0].content_type",
                "attachments[0].size_bytes"
            ]
        );
        let six = SubmitRequest {
            category: Some("plumber".into()),
            issue_type: Some("tap".into()),
            attachments: vec![AttachmentInput::default(); 6],
            ..SubmitRequest::default()
        };
        assert_eq!(six.check(now).unwrap_err().errors()[0].field, "attachments");
        let exact = AttachmentInput {
            path: Some("h/mr/a.mp4".into()),
            content_type: Some("video/mp4".into()),
            size_bytes: Some(ATTACHMENT_BYTES_MAX),
        };
        let ok = SubmitRequest { attachments: vec![exact; 5], ..six };
        assert_eq!(ok.check(now).unwrap().priority, Priority::Normal);
    }
}
