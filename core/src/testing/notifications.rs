//! Notification conformance tests: the same on every store.

use crate::actor::{Actor, Role};
use crate::error::ErrorCode;
use crate::id::UserId;
use crate::kernel::entity::{Entity, EntityRef};
use crate::kernel::store::{ReadExt, Store};
use crate::notifications::{Notification, NotificationStore, Notifications, Recipient, SendNotice};
use crate::system::RandomIds;
use crate::time::{Clock, ManualClock};
use std::sync::Arc;

pub fn service<S: Store + Clone + 'static>(store: S) -> (Notifications<S>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(super::fixtures::epoch()));
    (Notifications::new(store, clock.clone(), Arc::new(RandomIds)), clock)
}

fn user(role: Role) -> Actor {
    Actor::user(UserId::generate(&RandomIds), [role])
}

fn notice(to: Recipient, title: &str) -> SendNotice {
    // Any registered entity will do as the subject; a notification about a standing.
    let subject = EntityRef { kind: crate::residents::ResidentStanding::kind(), id: uuid::Uuid::from_u128(42) };
    SendNotice {
        recipient: to,
        kind: "residents.notice".into(),
        title: title.into(),
        body: "Details inside.".into(),
        subject,
    }
}

pub async fn notifications_reach_their_user_or_role_inbox_and_nobody_else<S: Store + Clone + 'static>(store: S) {
    let (svc, clock) = service(store);
    let admin = user(Role::Admin);
    let (ada, ben, sales) = (user(Role::Resident), user(Role::Resident), user(Role::SalesAgent));
    let to_ada = svc.send(&admin, notice(Recipient::User(ada.user_id().unwrap()), "Welcome, Ada")).await.unwrap();
    clock.advance(chrono::Duration::seconds(1));
    let to_sales = svc.send(&Actor::System, notice(Recipient::Role(Role::SalesAgent), "New inquiry")).await.unwrap();
    // What each caller lists: their own and their roles' inboxes, newest first.
    assert_eq!(svc.mine(&ada, false).await.unwrap(), vec![to_ada.clone()]);
    assert!(svc.mine(&ben, false).await.unwrap().is_empty());
    assert_eq!(svc.mine(&sales, false).await.unwrap(), vec![to_sales.clone()]);
    assert_eq!(svc.mine(&Actor::Anonymous, false).await.unwrap_err().code, ErrorCode::Unauthenticated);
    // The events go to the user (a role inbox's event names no user: ARCHITECTURE "Known gaps").
    let store = svc.runner().store();
    let events = store.outbox_after(0, 10).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].1.audience, vec![ada.user_id().unwrap()]);
    assert_eq!(events[0].1.topic, "notifications.notification.create");
    // Strangers cannot see it (not_found), nor mark it; refusals write nothing.
    let before = super::digest(store).await;
    assert_eq!(svc.mark_read(&ben, to_ada.id).await.unwrap_err().code, ErrorCode::NotFound);
    assert_eq!(
        svc.mark_read(&admin, to_ada.id).await.unwrap_err().code,
        ErrorCode::Forbidden,
        "admins see, never mark"
    );
    assert_eq!(
        svc.send(&ada, notice(Recipient::User(ben.user_id().unwrap()), "Hi")).await.unwrap_err().code,
        ErrorCode::Forbidden
    );
    let bidi = svc.send(&admin, notice(Recipient::Role(Role::Admin), "evil\u{202E}txt")).await.unwrap_err();
    assert_eq!((bidi.code, bidi.fields[0].field.as_str()), (ErrorCode::Validation, "notification.title"));
    let mut bad_kind = notice(Recipient::Role(Role::Admin), "ok");
    bad_kind.kind = "Not A Kind".into();
    let e = svc.send(&admin, bad_kind).await.unwrap_err();
    assert_eq!((e.code, e.fields[0].field.as_str()), (ErrorCode::Validation, "notification.kind"));
    assert_eq!(super::digest(store).await, before);
    // The recipient reads it once; unread lists shrink.
    clock.advance(chrono::Duration::seconds(1));
    let read = svc.mark_read(&ada, to_ada.id).await.unwrap();
    assert_eq!(read.read_at, Some(clock.now()));
    assert!(svc.mine(&ada, true).await.unwrap().is_empty());
    assert_eq!(svc.mine(&ada, false).await.unwrap(), vec![read.clone()]);
    let stored = store.get::<Notification>(to_ada.id.as_uuid()).await.unwrap().unwrap();
    assert_eq!((stored.value, stored.version), (read, 2));
    let trail = store.audit_trail(to_ada.entity_ref()).await.unwrap();
    assert_eq!(trail.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(), ["create", "read"]);
    assert_eq!(store.notifications_about(to_sales.subject).await.unwrap().len(), 2);
}

pub async fn notifications_a_role_inbox_is_read_once_by_racing_holders<S: Store + Clone + 'static>(store: S) {
    const READERS: usize = 8;
    let (svc, _) = service(store);
    let note = svc.send(&Actor::System, notice(Recipient::Role(Role::Admin), "A submission to review")).await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(READERS));
    let tasks: Vec<_> = (0..READERS)
        .map(|_| {
            let (svc, b, who) = (svc.clone(), barrier.clone(), user(Role::Admin));
            tokio::spawn(async move {
                b.wait().await;
                svc.mark_read(&who, note.id).await
            })
        })
        .collect();
    let mut read_at = Vec::new();
    for t in tasks {
        read_at.push(t.await.unwrap().unwrap().read_at.unwrap());
    }
    read_at.dedup();
    assert_eq!(read_at.len(), 1, "every admin sees the one read mark");
    let store = svc.runner().store();
    let stored = store.get::<Notification>(note.id.as_uuid()).await.unwrap().unwrap();
    assert_eq!((stored.version, stored.value.read_at), (2, Some(read_at[0])));
    let trail = store.audit_trail(note.entity_ref()).await.unwrap();
    assert_eq!(trail.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(), ["create", "read"]);
    assert_eq!(store.outbox_after(0, 100).await.unwrap().len(), 2, "one create and one read event");
}

crate::conformance_cases!("notifications";
    notifications_reach_their_user_or_role_inbox_and_nobody_else,
    notifications_a_role_inbox_is_read_once_by_racing_holders
);
