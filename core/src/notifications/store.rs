//! The notification entity (declared here, next to the model) and its reads over any [`Reader`].

use super::{Notification, Recipient};
use crate::actor::Role;
use crate::id::{NotificationId, UserId};
use crate::kernel::entity::{Domain, Entity, EntityDecl, EntityKind, EntityRef, Readers, Shape};
use crate::kernel::query::{Dir, Filter, Query};
use crate::kernel::store::{ReadExt, Reader, StoreResult, Versioned};
use crate::kernel::value::{DecodeError, Decoded, Row, RowRead, Value, ValueType};
use uuid::Uuid;

/// The notifications domain.
pub static DOMAIN: Domain = Domain { name: "notifications", entities: &[&NOTIFICATION] };

static NOTIFICATION: EntityDecl = EntityDecl {
    kind: "notifications.notification",
    aliases: &[],
    human: "notification",
    table: "notifications",
    key: "id",
    shape: Shape::Versioned,
    uniques: &[],
    guards: &[],
};

/// The role with this wire name.
pub(crate) fn parse_role(s: &str) -> Option<Role> {
    Role::ALL.into_iter().find(|r| r.as_str() == s)
}

impl Entity for Notification {
    const DECL: &'static EntityDecl = &NOTIFICATION;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        let (user, role) = match self.recipient {
            Recipient::User(u) => (Some(u.as_uuid()), None),
            Recipient::Role(r) => (None, Some(r.as_str())),
        };
        Row::new()
            .with("id", self.id.as_uuid())
            .with_opt("recipient_user", ValueType::Uuid, user)
            .with_opt("recipient_role", ValueType::Text, role)
            .with("kind", self.kind.as_str())
            .with("title", self.title.as_str())
            .with("body", self.body.as_str())
            .with("subject_kind", self.subject.kind.as_str())
            .with("subject_id", self.subject.id)
            .with("created_at", self.created_at)
            .with_opt("read_at", ValueType::Ts, self.read_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        let recipient = match (r.opt_uuid("recipient_user")?, r.opt_text("recipient_role")?) {
            (Some(u), None) => Recipient::User(UserId::from_uuid(u)),
            (None, Some(role)) => Recipient::Role(
                parse_role(&role)
                    .ok_or_else(|| DecodeError::new("recipient_role", format!("unknown role `{role}`")))?,
            ),
            _ => return Err(DecodeError::new("recipient_user", "exactly one of user and role")),
        };
        let kind = r.text("subject_kind")?;
        let subject_kind = EntityKind::parse(&kind)
            .ok_or_else(|| DecodeError::new("subject_kind", format!("unknown entity kind `{kind}`")))?;
        Ok(Notification {
            id: NotificationId::from_uuid(r.uuid("id")?),
            recipient,
            kind: r.text("kind")?,
            title: r.text("title")?,
            body: r.text("body")?,
            subject: EntityRef { kind: subject_kind, id: r.uuid("subject_id")? },
            created_at: r.ts("created_at")?,
            read_at: r.opt_ts("read_at")?,
        })
    }
    /// Its user, or every holder of its role (admins read everything).
    fn readers(&self) -> Readers {
        match self.recipient {
            Recipient::User(u) => Readers::users([u]),
            Recipient::Role(r) => Readers::nobody().and_roles([r]),
        }
    }
}

/// The notification reads, written once over any [`Reader`].
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait NotificationStore: Reader {
    /// A notification.
    async fn notification(&self, id: NotificationId) -> StoreResult<Option<Versioned<Notification>>> {
        self.get(id.as_uuid()).await
    }
    /// The notifications addressed to `user` or to one of `roles`, newest first, at most `limit`.
    async fn notifications_for(
        &self,
        user: UserId,
        roles: &[Role],
        unread_only: bool,
        limit: u32,
    ) -> StoreResult<Vec<Notification>> {
        let mut to = vec![vec![Filter::Eq("recipient_user", user.as_uuid().into())]];
        if !roles.is_empty() {
            to.push(vec![Filter::In("recipient_role", roles.iter().map(|r| Value::from(r.as_str())).collect())]);
        }
        let mut q = Query::of::<Notification>().filter(Filter::Any(to));
        if unread_only {
            q = q.filter(Filter::IsNull("read_at"));
        }
        let q = q.order_by("created_at", Dir::Desc).order_by("id", Dir::Desc).limit(limit);
        Ok(self.find::<Notification>(q).await?.into_iter().map(|v| v.value).collect())
    }
    /// Every notification about `subject`, oldest first (what a domain's tests and reports check).
    async fn notifications_about(&self, subject: EntityRef) -> StoreResult<Vec<Notification>> {
        let q = Query::of::<Notification>()
            .eq("subject_kind", subject.kind.as_str())
            .eq("subject_id", subject.id)
            .order_by("created_at", Dir::Asc)
            .order_by("id", Dir::Asc);
        Ok(self.find::<Notification>(q).await?.into_iter().map(|v| v.value).collect())
    }
}

impl<R: Reader + ?Sized> NotificationStore for R {}
