//! Notifications (Viramah Group E, `notifications`: "per-user notification records").
//!
//! A notification is a record addressed to one user, or to a role as a **shared inbox**: one record
//! that everyone holding the role reads, and that one `read_at` marks read for the whole role (the
//! admin inbox of new onboarding submissions is worked by whichever admin gets there first). Other
//! domains add one to the change set they are deciding with [`notify`], so a notification commits
//! (audited, emitted to its readers) with the change it announces, or not at all.

use crate::actor::{Actor, Role};
use crate::authz::Decision;
use crate::error::Error;
use crate::id::{IdSource, NotificationId, UserId};
use crate::kernel::access::{require, require_visible};
use crate::kernel::entity::{Entity, EntityRef};
use crate::kernel::store::{Reader, Reads, Store, Versioned};
use crate::service::{Command, Decide, Runner};
use crate::time::{Clock, Timestamp};
use crate::validate::{TextRule, ValidationErrors, Validator, Violation};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

mod store;
pub use store::{NotificationStore, DOMAIN};

/// A notification's title: one line, 1–120 characters.
pub const TITLE: TextRule = TextRule { min_chars: 1, max_chars: 120, multiline: false };
/// A notification's body: up to 2,000 characters, line breaks kept (may be empty).
pub const BODY: TextRule = TextRule { min_chars: 0, max_chars: 2_000, multiline: true };
/// Longest kind (`onboarding.submitted`), in bytes.
pub const KIND_MAX_BYTES: usize = 64;
/// Most notifications one listing returns.
pub const LIST_MAX: u32 = 100;

/// Who a notification is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    /// One user.
    User(UserId),
    /// Everyone holding the role, as one shared inbox: one record, one `read_at`.
    Role(Role),
}

impl Recipient {
    /// True when `actor` is the recipient (the user, or a holder of the role).
    pub fn includes(&self, actor: &Actor) -> bool {
        match self {
            Recipient::User(u) => actor.is(*u),
            Recipient::Role(r) => actor.has_role(*r),
        }
    }
}

/// A notification as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Id.
    pub id: NotificationId,
    /// Who it is for.
    pub recipient: Recipient,
    /// What it is about, as a stable dotted name (`onboarding.submitted`). INVARIANT (kind): 1–64
    /// bytes of `[a-z0-9_.]`, starting with a letter (checked by [`notify`] and a named CHECK).
    pub kind: String,
    /// Title (validated text, [`TITLE`]).
    pub title: String,
    /// Body (validated text, [`BODY`]; may be empty).
    pub body: String,
    /// The entity it is about.
    pub subject: EntityRef,
    /// When created.
    pub created_at: Timestamp,
    /// When read (by the user, or by the first holder of the role); `None` while unread.
    pub read_at: Option<Timestamp>,
}

/// What a domain asks [`notify`] to add.
#[derive(Debug, Clone)]
pub struct NewNotification<'a> {
    /// Who it is for.
    pub recipient: Recipient,
    /// Its kind (`maintenance.escalated`).
    pub kind: &'a str,
    /// Title, checked with [`TITLE`].
    pub title: &'a str,
    /// Body, checked with [`BODY`].
    pub body: &'a str,
    /// The entity it is about.
    pub subject: EntityRef,
}

fn check_kind(v: &mut Validator, field: &str, kind: &str) -> Option<String> {
    let ok = !kind.is_empty()
        && kind.len() <= KIND_MAX_BYTES
        && kind.starts_with(|c: char| c.is_ascii_lowercase())
        && kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
    if !ok {
        v.push(field, Violation::InvalidFormat { expected: "notification_kind".into() });
        return None;
    }
    Some(kind.to_owned())
}

/// Checks a notification's kind, title and body (field paths `notification.kind`, …).
pub fn check(new: &NewNotification<'_>) -> Result<(String, String, String), ValidationErrors> {
    let mut v = Validator::nested("notification");
    let kind = check_kind(&mut v, "kind", new.kind);
    let title = v.text("title", Some(new.title), TITLE);
    let body = v.optional_text("body", Some(new.body), BODY);
    v.finish(|| Some((kind?, title?, body?.unwrap_or_default())))
}

/// Adds a notification to the change set `cx` is building: validated (a bad title is `validation`
/// on `notification.title`), then inserted through [`Decide::insert`] — audited, and emitted to the
/// notification's readers — so it commits with the change it announces, or not at all.
pub fn notify(cx: &mut Decide<'_>, new: NewNotification<'_>) -> Result<Notification, Error> {
    let (kind, title, body) = check(&new)?;
    let n = Notification {
        id: NotificationId::generate(cx.ids()),
        recipient: new.recipient,
        kind,
        title,
        body,
        subject: new.subject,
        created_at: cx.now(),
        read_at: None,
    };
    cx.insert(n.clone())?;
    Ok(n)
}

/// Sends a notice (admins and the system): a notification about an existing entity, to a user or
/// a role's shared inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendNotice {
    /// Who it is for.
    pub recipient: Recipient,
    /// Its kind.
    pub kind: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// What it is about.
    pub subject: EntityRef,
}

impl SendNotice {
    fn as_new(&self) -> NewNotification<'_> {
        NewNotification {
            recipient: self.recipient,
            kind: &self.kind,
            title: &self.title,
            body: &self.body,
            subject: self.subject,
        }
    }
    /// Validates the input without a store.
    pub fn check(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        check(&self.as_new()).map(|_| ())
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for SendNotice {
    const NAME: &'static str = "notifications.send";
    const READS: Reads = Reads::One;
    type Valid = ();
    type Loaded = ();
    type Output = Notification;

    fn validate(&self, now: Timestamp) -> Result<(), ValidationErrors> {
        self.check(now)
    }
    async fn load(&self, _: &dyn Reader, _: &Actor, _: &()) -> Result<(), Error> {
        Ok(())
    }
    fn decide(&self, actor: &Actor, _: &(), _: (), cx: &mut Decide<'_>) -> Result<Notification, Error> {
        let allowed = matches!(actor, Actor::System) || actor.is_admin();
        require(actor, Decision::when(allowed, "only admins send notices"))?;
        notify(cx, self.as_new())
    }
}

/// Marks a notification read (its user, or any holder of its role). Reading it again changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkRead {
    /// The notification.
    pub notification_id: NotificationId,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for MarkRead {
    const NAME: &'static str = "notifications.mark_read";
    const READS: Reads = Reads::One;
    type Valid = ();
    type Loaded = Option<Versioned<Notification>>;
    type Output = Notification;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        Ok(())
    }
    async fn load(&self, store: &dyn Reader, _: &Actor, _: &()) -> Result<Self::Loaded, Error> {
        Ok(store.notification(self.notification_id).await?)
    }
    fn decide(&self, actor: &Actor, _: &(), n: Self::Loaded, cx: &mut Decide<'_>) -> Result<Notification, Error> {
        let visible = n.as_ref().is_some_and(|n| n.value.readers().admits(actor));
        require_visible(actor, visible, "notification")?;
        let before = n.ok_or_else(|| Error::not_found("notification"))?;
        // Admins may read every notification, but only its recipient marks it read.
        require(
            actor,
            Decision::when(before.value.recipient.includes(actor), "only its recipient marks a notification read"),
        )?;
        if before.value.read_at.is_some() {
            return Ok(before.value); // already read (perhaps by another holder of the role): nothing changes
        }
        let mut after = before.value.clone();
        after.read_at = Some(cx.now());
        cx.update(&before, after.clone(), "read")?;
        Ok(after)
    }
}

/// The notifications service.
pub struct Notifications<S> {
    runner: Runner<S>,
}

impl<S: Clone> Clone for Notifications<S> {
    fn clone(&self) -> Self {
        Self { runner: self.runner.clone() }
    }
}

impl<S: Store> Notifications<S> {
    /// The service over `store`.
    pub fn new(store: S, clock: Arc<dyn Clock>, ids: Arc<dyn IdSource>) -> Self {
        Self { runner: Runner::new(store, clock, ids) }
    }
    /// The runner.
    pub fn runner(&self) -> &Runner<S> {
        &self.runner
    }
    /// Sends a notice (admins, the system).
    pub async fn send(&self, actor: &Actor, notice: SendNotice) -> Result<Notification, Error> {
        self.runner.execute(actor, None, &notice).await
    }
    /// Marks a notification read.
    pub async fn mark_read(&self, actor: &Actor, id: NotificationId) -> Result<Notification, Error> {
        self.runner.execute(actor, None, &MarkRead { notification_id: id }).await
    }
    /// The caller's notifications — addressed to them or to a role they hold — newest first, at most
    /// [`LIST_MAX`]; only unread ones when `unread_only`.
    pub async fn mine(&self, actor: &Actor, unread_only: bool) -> Result<Vec<Notification>, Error> {
        let user = actor.user_id().ok_or_else(Error::unauthenticated)?;
        let roles = match actor {
            Actor::User { roles, .. } => roles.clone(),
            _ => Vec::new(),
        };
        Ok(self.runner.store().notifications_for(user, &roles, unread_only, LIST_MAX).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::id::SequentialIds;
    use crate::kernel::memory::MemoryStore;
    use crate::kernel::store::ReadExt;
    use crate::time::ManualClock;
    use uuid::Uuid;

    fn service() -> (Notifications<MemoryStore>, MemoryStore) {
        let store = MemoryStore::new();
        let clock = Arc::new(ManualClock::new(Timestamp::from_unix_micros(1_780_000_000_000_000).unwrap()));
        (Notifications::new(store.clone(), clock, Arc::new(SequentialIds::with_prefix(3))), store)
    }

    fn notice(to: Recipient, title: &str) -> SendNotice {
        let subject = EntityRef { kind: Notification::kind(), id: Uuid::from_u128(99) };
        SendNotice {
            recipient: to,
            kind: "test.notice".into(),
            title: title.into(),
            body: "hello\nthere".into(),
            subject,
        }
    }

    #[tokio::test]
    async fn a_notice_reaches_its_user_and_is_read_once() {
        let (svc, store) = service();
        let admin = Actor::user(UserId::from_uuid(Uuid::from_u128(1)), [Role::Admin]);
        let ada = Actor::user(UserId::from_uuid(Uuid::from_u128(2)), [Role::Resident]);
        let n = svc.send(&admin, notice(Recipient::User(ada.user_id().unwrap()), "Welcome")).await.unwrap();
        let events = store.outbox_after(0, 10).await.unwrap();
        assert_eq!(events[0].1.topic, "notifications.notification.create");
        assert_eq!(events[0].1.audience, vec![ada.user_id().unwrap()]);
        assert_eq!(svc.mine(&ada, true).await.unwrap(), vec![n.clone()]);
        assert_eq!(svc.mark_read(&admin, n.id).await.unwrap_err().code, ErrorCode::Forbidden);
        let read = svc.mark_read(&ada, n.id).await.unwrap();
        assert!(read.read_at.is_some());
        assert_eq!(svc.mark_read(&ada, n.id).await.unwrap(), read, "reading again changes nothing");
        assert_eq!(store.get::<Notification>(n.id.as_uuid()).await.unwrap().unwrap().version, 2);
        assert!(svc.mine(&ada, true).await.unwrap().is_empty());
        let bad = svc.send(&admin, notice(Recipient::Role(Role::Admin), "a\u{202E}b")).await.unwrap_err();
        assert_eq!(bad.fields[0].field, "notification.title");
    }
}
