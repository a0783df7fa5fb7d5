//! The maintenance entities (declared here, next to the model) and their reads over any [`Reader`].

use super::reports::ReportData;
use super::{
    Assignment, Attachment, Category, Comment, HostelCounter, MaintenanceRequest, Priority, Status, StatusChange,
    ATTACHMENTS_MAX,
};
use crate::actor::Role;
use crate::id::{MaintenanceRecordId, MaintenanceRequestId, TenantId, UserId};
use crate::kernel::entity::{Domain, Entity, EntityDecl, Guard, Readers, Shape, Unique};
use crate::kernel::query::{Dir, Filter, Query};
use crate::kernel::store::{ReadExt, Reader, StoreResult, Versioned};
use crate::kernel::value::{int_as, Decoded, Row, RowRead, Value, ValueType};
use crate::time::Timestamp;
use uuid::Uuid;

/// The maintenance domain.
pub static DOMAIN: Domain = Domain {
    name: "maintenance",
    entities: &[&CATEGORY, &COUNTER, &REQUEST, &ASSIGNMENT, &HISTORY, &COMMENT, &ATTACHMENT],
};

static CATEGORY: EntityDecl = EntityDecl {
    kind: "maintenance.category",
    aliases: &[],
    human: "maintenance category",
    table: "maintenance_categories",
    key: "id",
    shape: Shape::Versioned,
    uniques: &[Unique { name: "maintenance_categories_code", columns: &["code"], when: None }],
    guards: &[],
};

static COUNTER: EntityDecl = EntityDecl {
    kind: "maintenance.counter",
    aliases: &[],
    human: "reference counter",
    table: "maintenance_counters",
    key: "id",
    shape: Shape::Versioned,
    uniques: &[Unique { name: "maintenance_counters_hostel", columns: &["hostel_id"], when: None }],
    guards: &[],
};

static REQUEST: EntityDecl = EntityDecl {
    kind: "maintenance.request",
    aliases: &[],
    human: "maintenance request",
    table: "maintenance_requests",
    key: "id",
    shape: Shape::Versioned,
    // INVARIANT (gap-free): one request per number per hostel.
    uniques: &[Unique { name: "maintenance_requests_reference", columns: &["hostel_id", "number"], when: None }],
    // INVARIANT (attachments): `0 <= attachments <= 5`; the guard of every attachment delta.
    guards: &[Guard { name: "maintenance_requests_attachments", holds: attachments_within_limit }],
};

fn attachments_within_limit(r: &dyn RowRead) -> bool {
    matches!(r.int("attachments"), Ok(n) if (0..=i64::from(ATTACHMENTS_MAX)).contains(&n))
}

static ASSIGNMENT: EntityDecl = EntityDecl {
    kind: "maintenance.assignment",
    aliases: &[],
    human: "assignment",
    table: "maintenance_assignments",
    key: "id",
    shape: Shape::Versioned,
    // One active assignment per request (Viramah §10: "enforced by a UNIQUE constraint on
    // maintenance_assignments.request_id where active = true").
    uniques: &[Unique { name: "maintenance_assignments_one_active", columns: &["request_id"], when: Some(is_active) }],
    guards: &[],
};

fn is_active(r: &dyn RowRead) -> bool {
    r.bool("active").unwrap_or(false)
}

static HISTORY: EntityDecl = EntityDecl {
    kind: "maintenance.status_change",
    aliases: &[],
    human: "status change",
    table: "maintenance_status_history",
    key: "id",
    shape: Shape::AppendOnly { sequence: None },
    uniques: &[Unique {
        name: "maintenance_status_history_position",
        columns: &["request_id", "position"],
        when: None,
    }],
    guards: &[],
};

static COMMENT: EntityDecl = EntityDecl {
    kind: "maintenance.comment",
    aliases: &[],
    human: "comment",
    table: "maintenance_comments",
    key: "id",
    shape: Shape::AppendOnly { sequence: None },
    uniques: &[],
    guards: &[],
};

static ATTACHMENT: EntityDecl = EntityDecl {
    kind: "maintenance.attachment",
    aliases: &[],
    human: "attachment",
    table: "maintenance_attachments",
    key: "id",
    shape: Shape::AppendOnly { sequence: None },
    uniques: &[],
    guards: &[],
};

fn staff() -> Readers {
    Readers::nobody().and_roles([Role::MaintenanceStaff])
}

fn opt_status(r: &dyn RowRead, column: &str) -> Decoded<Option<Status>> {
    match r.opt_text(column)? {
        None => Ok(None),
        Some(_) => r.wire(column, Status::parse).map(Some),
    }
}

impl Entity for Category {
    const DECL: &'static EntityDecl = &CATEGORY;
    fn id(&self) -> Uuid {
        self.id
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id)
            .with("code", self.code.as_str())
            .with("name", self.name.as_str())
            .with("issue_types", Value::TextList(self.issue_types.clone()))
            .with("created_at", self.created_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(Category {
            id: r.uuid("id")?,
            code: r.text("code")?,
            name: r.text("name")?,
            issue_types: r.text_list("issue_types")?,
            created_at: r.ts("created_at")?,
        })
    }
    /// Residents pick from them: every signed-in user.
    fn readers(&self) -> Readers {
        Readers::nobody().and_signed_in()
    }
}

impl Entity for HostelCounter {
    const DECL: &'static EntityDecl = &COUNTER;
    fn id(&self) -> Uuid {
        self.id
    }
    fn to_row(&self) -> Row {
        Row::new().with("id", self.id).with("hostel_id", self.hostel_id.as_uuid()).with("issued", self.issued)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(HostelCounter {
            id: r.uuid("id")?,
            hostel_id: TenantId::from_uuid(r.uuid("hostel_id")?),
            issued: r.int("issued")?,
        })
    }
    /// Bookkeeping: admins only.
    fn readers(&self) -> Readers {
        Readers::nobody()
    }
}

impl Entity for MaintenanceRequest {
    const DECL: &'static EntityDecl = &REQUEST;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id.as_uuid())
            .with("hostel_id", self.hostel_id.as_uuid())
            .with("number", self.number)
            .with("reference", self.reference.as_str())
            .with("user_id", self.user_id.as_uuid())
            .with("category", self.category.as_str())
            .with("issue_type", self.issue_type.as_str())
            .with_opt("description", ValueType::Text, self.description.clone())
            .with("priority", self.priority.as_str())
            .with("status", self.status.as_str())
            .with_opt("reject_reason", ValueType::Text, self.reject_reason.clone())
            .with("attachments", i64::from(self.attachments))
            .with_opt("escalated_at", ValueType::Ts, self.escalated_at)
            .with_opt("resolved_at", ValueType::Ts, self.resolved_at)
            .with("created_at", self.created_at)
            .with("updated_at", self.updated_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(MaintenanceRequest {
            id: MaintenanceRequestId::from_uuid(r.uuid("id")?),
            hostel_id: TenantId::from_uuid(r.uuid("hostel_id")?),
            number: r.int("number")?,
            reference: r.text("reference")?,
            user_id: UserId::from_uuid(r.uuid("user_id")?),
            category: r.text("category")?,
            issue_type: r.text("issue_type")?,
            description: r.opt_text("description")?,
            priority: r.wire("priority", Priority::parse)?,
            status: r.wire("status", Status::parse)?,
            reject_reason: r.opt_text("reject_reason")?,
            attachments: int_as(r, "attachments")?,
            escalated_at: r.opt_ts("escalated_at")?,
            resolved_at: r.opt_ts("resolved_at")?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }
    /// Its resident and the maintenance staff of its hostel (admins read everything; Viramah §10:
    /// staff "read all requests … filtered by `hostel_id`"). It names no staff member, so the
    /// resident's events carry no staff identity. The records under a request (assignments,
    /// history, comments, attachments) do not carry the hostel: the commands that write them scope
    /// their events to it (`Decide::scope_events_to`).
    fn readers(&self) -> Readers {
        Readers::users([self.user_id]).and_roles([Role::MaintenanceStaff]).in_tenant(self.hostel_id)
    }
}

impl Entity for Assignment {
    const DECL: &'static EntityDecl = &ASSIGNMENT;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id.as_uuid())
            .with("request_id", self.request_id.as_uuid())
            .with("staff_id", self.staff_id.as_uuid())
            .with("active", self.active)
            .with("assigned_by", self.assigned_by.as_uuid())
            .with("assigned_at", self.assigned_at)
            .with_opt("ended_at", ValueType::Ts, self.ended_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(Assignment {
            id: MaintenanceRecordId::from_uuid(r.uuid("id")?),
            request_id: MaintenanceRequestId::from_uuid(r.uuid("request_id")?),
            staff_id: UserId::from_uuid(r.uuid("staff_id")?),
            active: r.bool("active")?,
            assigned_by: UserId::from_uuid(r.uuid("assigned_by")?),
            assigned_at: r.ts("assigned_at")?,
            ended_at: r.opt_ts("ended_at")?,
        })
    }
    /// Staff only: residents never learn who is assigned.
    fn readers(&self) -> Readers {
        staff()
    }
}

impl Entity for StatusChange {
    const DECL: &'static EntityDecl = &HISTORY;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id.as_uuid())
            .with("request_id", self.request_id.as_uuid())
            .with("position", self.position)
            .with_opt("from_status", ValueType::Text, self.from_status.map(|s| s.as_str()))
            .with("to_status", self.to_status.as_str())
            .with("changed_by", self.changed_by.as_str())
            .with_opt("note", ValueType::Text, self.note.clone())
            .with("changed_at", self.changed_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(StatusChange {
            id: MaintenanceRecordId::from_uuid(r.uuid("id")?),
            request_id: MaintenanceRequestId::from_uuid(r.uuid("request_id")?),
            position: r.int("position")?,
            from_status: opt_status(r, "from_status")?,
            to_status: r.wire("to_status", Status::parse)?,
            changed_by: r.text("changed_by")?,
            note: r.opt_text("note")?,
            changed_at: r.ts("changed_at")?,
        })
    }
    /// Staff only (`changed_by` names staff); residents read the timeline without it.
    fn readers(&self) -> Readers {
        staff()
    }
}

impl Entity for Comment {
    const DECL: &'static EntityDecl = &COMMENT;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id.as_uuid())
            .with("request_id", self.request_id.as_uuid())
            .with("resident_id", self.resident_id.as_uuid())
            .with("author_id", self.author_id.as_uuid())
            .with("from_staff", self.from_staff)
            .with("staff_only", self.staff_only)
            .with("body", self.body.as_str())
            .with("created_at", self.created_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(Comment {
            id: MaintenanceRecordId::from_uuid(r.uuid("id")?),
            request_id: MaintenanceRequestId::from_uuid(r.uuid("request_id")?),
            resident_id: UserId::from_uuid(r.uuid("resident_id")?),
            author_id: UserId::from_uuid(r.uuid("author_id")?),
            from_staff: r.bool("from_staff")?,
            staff_only: r.bool("staff_only")?,
            body: r.text("body")?,
            created_at: r.ts("created_at")?,
        })
    }
    /// The resident's own comments are theirs and staff's; a staff comment names its author, so it
    /// is staff-only as a record (the resident gets [`super::ResidentComment`] instead).
    fn readers(&self) -> Readers {
        if self.from_staff || self.staff_only {
            staff()
        } else {
            Readers::users([self.resident_id]).and_roles([Role::MaintenanceStaff])
        }
    }
}

impl Entity for Attachment {
    const DECL: &'static EntityDecl = &ATTACHMENT;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id.as_uuid())
            .with("request_id", self.request_id.as_uuid())
            .with("resident_id", self.resident_id.as_uuid())
            .with("path", self.path.as_str())
            .with("content_type", self.content_type.as_str())
            .with("size_bytes", self.size_bytes)
            .with("created_at", self.created_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(Attachment {
            id: MaintenanceRecordId::from_uuid(r.uuid("id")?),
            request_id: MaintenanceRequestId::from_uuid(r.uuid("request_id")?),
            resident_id: UserId::from_uuid(r.uuid("resident_id")?),
            path: r.text("path")?,
            content_type: r.text("content_type")?,
            size_bytes: r.int("size_bytes")?,
            created_at: r.ts("created_at")?,
        })
    }
    /// Its resident and maintenance staff.
    fn readers(&self) -> Readers {
        Readers::users([self.resident_id]).and_roles([Role::MaintenanceStaff])
    }
}

fn open_statuses() -> Vec<Value> {
    Status::ALL.iter().filter(|(s, _)| s.is_open()).map(|(_, w)| Value::from(*w)).collect()
}

/// The maintenance reads, written once over any [`Reader`].
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait MaintenanceStore: Reader {
    /// The category with `code`.
    async fn category(&self, code: &str) -> StoreResult<Option<Versioned<Category>>> {
        self.get(super::category_id(code)).await
    }
    /// Every category, by code.
    async fn categories(&self) -> StoreResult<Vec<Category>> {
        let q = Query::of::<Category>().order_by("code", Dir::Asc);
        Ok(self.find::<Category>(q).await?.into_iter().map(|c| c.value).collect())
    }
    /// The hostel's reference counter.
    async fn hostel_counter(&self, hostel: TenantId) -> StoreResult<Option<Versioned<HostelCounter>>> {
        self.get(super::counter_id(hostel)).await
    }
    /// A request.
    async fn maintenance_request(
        &self,
        id: MaintenanceRequestId,
    ) -> StoreResult<Option<Versioned<MaintenanceRequest>>> {
        self.get(id.as_uuid()).await
    }
    /// The hostel's requests, by number.
    async fn hostel_requests(&self, hostel: TenantId) -> StoreResult<Vec<MaintenanceRequest>> {
        let q = Query::of::<MaintenanceRequest>().eq("hostel_id", hostel.as_uuid()).order_by("number", Dir::Asc);
        Ok(self.find::<MaintenanceRequest>(q).await?.into_iter().map(|r| r.value).collect())
    }
    /// The hostel's open requests, oldest first.
    async fn open_requests(&self, hostel: TenantId) -> StoreResult<Vec<MaintenanceRequest>> {
        let q = Query::of::<MaintenanceRequest>()
            .eq("hostel_id", hostel.as_uuid())
            .filter(Filter::In("status", open_statuses()))
            .order_by("number", Dir::Asc);
        Ok(self.find::<MaintenanceRequest>(q).await?.into_iter().map(|r| r.value).collect())
    }
    /// Open requests never escalated whose trigger is at or before `now` (high after 6 hours,
    /// normal after 36), oldest first.
    async fn escalation_candidates(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<Versioned<MaintenanceRequest>>> {
        let due = |p: Priority| -> Vec<Filter> {
            let cutoff = now.checked_sub(chrono::Duration::hours(p.escalation_hours())).unwrap_or(now);
            vec![Filter::Eq("priority", p.as_str().into()), Filter::Le("created_at", cutoff.into())]
        };
        self.find(
            Query::of::<MaintenanceRequest>()
                .filter(Filter::IsNull("escalated_at"))
                .filter(Filter::In("status", open_statuses()))
                .filter(Filter::Any(vec![due(Priority::High), due(Priority::Normal)]))
                .order_by("created_at", Dir::Asc)
                .limit(limit),
        )
        .await
    }
    /// The request's active assignment.
    async fn active_assignment(&self, request: MaintenanceRequestId) -> StoreResult<Option<Versioned<Assignment>>> {
        self.find_one(Query::of::<Assignment>().eq("request_id", request.as_uuid()).eq("active", true)).await
    }
    /// Every assignment of the request, oldest first.
    async fn assignments(&self, request: MaintenanceRequestId) -> StoreResult<Vec<Assignment>> {
        let q = Query::of::<Assignment>().eq("request_id", request.as_uuid()).order_by("assigned_at", Dir::Asc);
        Ok(self.find::<Assignment>(q).await?.into_iter().map(|a| a.value).collect())
    }
    /// The request's status history, in order.
    async fn status_history(&self, request: MaintenanceRequestId) -> StoreResult<Vec<StatusChange>> {
        let q = Query::of::<StatusChange>().eq("request_id", request.as_uuid()).order_by("position", Dir::Asc);
        Ok(self.find::<StatusChange>(q).await?.into_iter().map(|h| h.value).collect())
    }
    /// The request's comments, oldest first.
    async fn comments(&self, request: MaintenanceRequestId) -> StoreResult<Vec<Comment>> {
        let q = Query::of::<Comment>().eq("request_id", request.as_uuid()).order_by("created_at", Dir::Asc);
        Ok(self.find::<Comment>(q).await?.into_iter().map(|c| c.value).collect())
    }
    /// The request's attachments, oldest first.
    async fn attachments(&self, request: MaintenanceRequestId) -> StoreResult<Vec<Attachment>> {
        let q = Query::of::<Attachment>().eq("request_id", request.as_uuid()).order_by("created_at", Dir::Asc);
        Ok(self.find::<Attachment>(q).await?.into_iter().map(|a| a.value).collect())
    }
    /// An attachment.
    async fn attachment(&self, id: MaintenanceRecordId) -> StoreResult<Option<Attachment>> {
        Ok(self.get::<Attachment>(id.as_uuid()).await?.map(|a| a.value))
    }
    /// Everything the reports of one hostel read (small histories; large ones take the SQL path).
    async fn report_data(&self, hostel: TenantId) -> StoreResult<ReportData> {
        let requests = self.hostel_requests(hostel).await?;
        let ids: Vec<Value> = requests.iter().map(|r| Value::Uuid(r.id.as_uuid())).collect();
        let history = self
            .find::<StatusChange>(Query::of::<StatusChange>().filter(Filter::In("request_id", ids.clone())))
            .await?
            .into_iter()
            .map(|h| h.value)
            .collect();
        let assignments = self
            .find::<Assignment>(Query::of::<Assignment>().filter(Filter::In("request_id", ids)))
            .await?
            .into_iter()
            .map(|a| a.value)
            .collect();
        Ok(ReportData { requests, history, assignments })
    }
}

impl<R: Reader + ?Sized> MaintenanceStore for R {}
