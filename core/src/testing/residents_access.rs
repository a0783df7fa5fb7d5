//! The residents access matrix, cell by cell, against the real commands and reads.
//!
//! [`expected`] writes the matrix out independently of `residents::access` (from the seed: Viramah
//! §3 "Role Taxonomy" and "Role Assignment Flow", §4, §5, §6, §11 "Access Matrix", §14 B), as the
//! exact answer a caller gets: `ok`, `forbidden`, `not_found` or `unauthenticated`. [`check_cell`]
//! builds the cell's situation on a store (a caller holding the role *in the store*, and whatever the
//! action targets) and runs the action: a refusal must carry exactly the expected code and write
//! nothing (the store's digest), an allowed action must succeed.
//!
//! Claims are not roles: a caller the cell expects to be refused claims **every** role in their
//! token, and a caller expected to succeed claims **none** — so a command that trusted the token
//! would fail one or the other.
//!
//! [`every_cell`] runs all of them (the memory store's test, `core/tests/residents_access.rs`); the
//! conformance case [`residents_access_matrix_sample`] runs a sample on every store.

use super::fixtures::{epoch, refused};
use crate::actor::{Actor, Role};
use crate::error::{Error, ErrorCode};
use crate::id::{SubmissionId, UserId};
use crate::kernel::store::Store;
use crate::residents::{ResidentAction, Residents, ReviewAction, Scope, StepInput, SubmissionStatus, SubmitInquiry};
use crate::rooms::Rooms;
use crate::system::RandomIds;
use crate::time::ManualClock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Who calls, as the store knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// A user holding this role in the store (a staff grant, or the standing's resident role).
    Role(Role),
    /// A signed-in user the store knows nothing about (before signing up).
    Unassigned,
    /// No user.
    Anonymous,
}

/// Every holder the matrix has a column for.
pub const HOLDERS: [Holder; 10] = [
    Holder::Role(Role::Resident),
    Holder::Role(Role::PendingResident),
    Holder::Role(Role::MaintenanceStaff),
    Holder::Role(Role::Admin),
    Holder::Role(Role::SuperAdmin),
    Holder::Role(Role::SalesAgent),
    Holder::Role(Role::CanteenStaff),
    Holder::Role(Role::AmenityManager),
    Holder::Unassigned,
    Holder::Anonymous,
];

use ResidentAction as A;

/// The scopes an action has: no target (`other`: no one's data), the caller only (`own`), or a
/// user the caller names (both).
pub fn scopes(action: ResidentAction) -> &'static [Scope] {
    match action {
        A::Inquire | A::ReadInquiries | A::ReviewQueue => &[Scope::Other],
        A::SignUp | A::SaveDraft | A::Submit => &[Scope::Own],
        A::ViewApplication | A::ViewRoles | A::Claim | A::Decide | A::GrantRole | A::RevokeRole => {
            &[Scope::Own, Scope::Other]
        }
    }
}

/// What a cell answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Allowed.
    Ok,
    /// Refused with this code.
    Refused(ErrorCode),
    /// The situation cannot exist: a user the store knows nothing about owns no submission.
    Unreachable,
}

/// The matrix, written from the seed.
pub fn expected(h: Holder, action: ResidentAction, scope: Scope) -> Expect {
    use Expect::{Ok, Refused, Unreachable};
    let role = |r: &[Role]| matches!(h, Holder::Role(x) if r.contains(&x));
    let admins = [Role::Admin, Role::SuperAdmin];
    let ok_or = |allowed: bool, code: ErrorCode| if allowed { Ok } else { Refused(code) };
    match (h, action, scope) {
        // §14 C: "The inquiry submission endpoint is the only unauthenticated endpoint".
        (_, A::Inquire, _) => Ok,
        (Holder::Anonymous, _, _) => Refused(ErrorCode::Unauthenticated),
        (Holder::Unassigned, A::Claim | A::Decide, Scope::Own) => Unreachable,
        // §4: "RLS policies that allow `SALES_AGENT` role reads"; admins read all resident data (§11).
        (_, A::ReadInquiries, _) => {
            ok_or(role(&[Role::SalesAgent, Role::Admin, Role::SuperAdmin]), ErrorCode::Forbidden)
        }
        // §6: "Admin sees all `pending_review` submissions in their portal".
        (_, A::ReviewQueue, _) => ok_or(role(&admins), ErrorCode::Forbidden),
        // §3 step 1: a user signs up as `PENDING_RESIDENT`; staff accounts are not residents.
        (Holder::Unassigned, A::SignUp, _) => Ok,
        (_, A::SignUp, _) => ok_or(role(&[Role::PendingResident, Role::Resident]), ErrorCode::Forbidden),
        // §3: `PENDING_RESIDENT` → "Authenticated but onboarding incomplete"; §5 is theirs alone.
        (_, A::SaveDraft | A::Submit, _) => ok_or(role(&[Role::PendingResident]), ErrorCode::Forbidden),
        // §11 "Resident App … Own data only"; "Admin Portal … All resident data, approvals".
        (_, A::ViewApplication | A::ViewRoles, Scope::Own) => Ok,
        (_, A::ViewApplication | A::ViewRoles, Scope::Other) => ok_or(role(&admins), ErrorCode::NotFound),
        // §6: the admin claims and decides; nobody reviews their own submission (they see it).
        (_, A::Claim | A::Decide, Scope::Own) => Refused(ErrorCode::Forbidden),
        (_, A::Claim | A::Decide, Scope::Other) => ok_or(role(&admins), ErrorCode::NotFound),
        // §3 step 4 / §14 B: super admins only, "no self-elevation possible".
        (_, A::GrantRole, Scope::Own) => Refused(ErrorCode::Forbidden),
        (_, A::GrantRole, Scope::Other) => ok_or(role(&[Role::SuperAdmin]), ErrorCode::Forbidden),
        // A super admin may revoke anyone's role, their own too (stepping down, not the last one).
        (_, A::RevokeRole, _) => ok_or(role(&[Role::SuperAdmin]), ErrorCode::Forbidden),
    }
}

/// A hostel to run cells in: the services, a super admin and an admin (both stored), and a pending
/// submission nobody in a cell owns.
pub struct Town<S> {
    pub r: Residents<S>,
    pub rooms: Rooms<S>,
    pub root: Actor,
    pub admin: Actor,
    pub pending: SubmissionId,
    pub pending_owner: UserId,
    n: AtomicU32,
}

fn step(k: i64) -> StepInput {
    let mut s = StepInput::default();
    match k {
        1 => {
            s.full_name = Some("Meera Iyer".into());
            s.id_document_path = Some("kyc-private/meera/aadhaar.jpg".into());
        }
        2 => {
            s.guardian_name = Some("Lakshmi Iyer".into());
            s.guardian_phone = Some("+91 98450 12345".into());
            s.guardian_relation = Some("parent".into());
            s.guardian_document_path = Some("kyc-private/meera/guardian.pdf".into());
        }
        _ => {
            s.diet = Some("vegan".into());
            s.notes = Some(String::new());
        }
    }
    s
}

fn new_user() -> UserId {
    UserId::generate(&RandomIds)
}

impl<S: Store + Clone + 'static> Town<S> {
    pub async fn new(store: S) -> Self {
        let clock = Arc::new(ManualClock::new(epoch()));
        let r = Residents::new(store.clone(), clock.clone(), Arc::new(RandomIds));
        let rooms = Rooms::new(store, clock, Arc::new(RandomIds));
        let root = Actor::user(new_user(), [Role::SuperAdmin]);
        r.grant_role(&Actor::System, root.user_id().unwrap(), Role::SuperAdmin).await.unwrap();
        let admin = Actor::user(new_user(), [Role::Admin]);
        r.grant_role(&root, admin.user_id().unwrap(), Role::Admin).await.unwrap();
        let mut town = Self {
            r,
            rooms,
            root,
            admin,
            pending: SubmissionId::from_uuid(uuid::Uuid::nil()),
            pending_owner: new_user(),
            n: AtomicU32::new(0),
        };
        let (owner, sub) = town.applicant().await;
        town.pending = sub;
        town.pending_owner = owner;
        town
    }

    fn next(&self) -> u32 {
        self.n.fetch_add(1, Ordering::SeqCst)
    }

    pub fn store(&self) -> &S {
        self.r.runner().store()
    }

    /// A signed-up user with a held bed and every step saved (not submitted).
    pub async fn drafted(&self) -> UserId {
        let user = new_user();
        let me = Actor::user(user, [Role::PendingResident]);
        self.r.sign_up(&me).await.unwrap();
        let room = self.rooms.add_room(&self.admin, &format!("M-{}", self.next()), 1).await.unwrap();
        let bed = self.rooms.reserve(&me, room.id, false).await.unwrap();
        for k in 1..=4 {
            let mut data = step(k);
            if k == 3 {
                data.reservation_id = Some(bed.id);
            }
            self.r.save_draft(&me, k, data).await.unwrap();
        }
        user
    }

    /// A user whose submission is pending review.
    pub async fn applicant(&self) -> (UserId, SubmissionId) {
        let user = self.drafted().await;
        let sub = self.r.submit(&Actor::user(user, [])).await.unwrap();
        (user, sub.id)
    }

    /// A user holding `holder`'s role in the store (`None` for anonymous callers).
    pub async fn holder(&self, h: Holder) -> Option<UserId> {
        let user = new_user();
        match h {
            Holder::Anonymous => return None,
            Holder::Unassigned => {}
            Holder::Role(Role::PendingResident) => {
                self.r.sign_up(&Actor::user(user, [])).await.unwrap();
            }
            Holder::Role(Role::Resident) => return Some(self.resident().await),
            Holder::Role(role) => {
                self.r.grant_role(&self.root, user, role).await.unwrap();
            }
        }
        Some(user)
    }

    /// A resident admitted through the real flow (onboarding, claim, approval).
    pub async fn resident(&self) -> UserId {
        let (user, sub) = self.applicant().await;
        self.r.review(&self.admin, sub, ReviewAction::Claim, None, &[]).await.unwrap();
        self.r.review(&self.admin, sub, ReviewAction::Approve, None, &[]).await.unwrap();
        user
    }

    /// `holder`'s user owning a submission in `status` (pending review, or under review by the
    /// town's admin): an applicant who is then granted the holder's staff role, or a resident.
    async fn holder_with_submission(&self, h: Holder, claimed: bool) -> (Option<UserId>, SubmissionId) {
        match h {
            Holder::Anonymous => return (None, self.pending),
            Holder::Role(Role::Resident) => {
                let user = self.resident().await;
                let sub = self.r.application(&Actor::user(user, []), user).await.unwrap().submission.unwrap();
                return (Some(user), sub.id);
            }
            _ => {}
        }
        let (user, sub) = self.applicant().await;
        if claimed {
            self.r.review(&self.admin, sub, ReviewAction::Claim, None, &[]).await.unwrap();
        }
        if let Holder::Role(role) = h {
            if role != Role::PendingResident {
                self.r.grant_role(&self.root, user, role).await.unwrap();
            }
        }
        (Some(user), sub)
    }

    fn inquiry(&self) -> SubmitInquiry {
        let k = self.next();
        SubmitInquiry {
            name: Some("Arjun Rao".into()),
            email: Some(format!("arjun.{k}@example.com")),
            phone: Some(format!("+91 98{:08}", 10_000_000 + k)),
            message: None,
            ip: Some(format!("10.{}.{}.{}", k / 65_536 % 256, k / 256 % 256, k % 256)),
            device_fingerprint: None,
        }
    }
}

/// A cell's caller: claiming every role when it should be refused, none when it should succeed.
fn caller(user: Option<UserId>, expect: Expect) -> Actor {
    match (user, expect) {
        (None, _) => Actor::Anonymous,
        (Some(u), Expect::Ok) => Actor::user(u, []),
        (Some(u), _) => Actor::user(u, Role::ALL),
    }
}

/// What a cell's action targets and how to run it, built before the refusal's digest is taken.
enum Prepared {
    NoTarget,
    User(UserId),
    Submission(SubmissionId),
    Grant(UserId, Role),
}

/// Builds the cell's situation, runs its action once, and checks the answer against [`expected`].
pub async fn check_cell<S: Store + Clone + 'static>(t: &Town<S>, h: Holder, action: ResidentAction, scope: Scope) {
    let expect = expected(h, action, scope);
    if expect == Expect::Unreachable {
        return;
    }
    let own = scope == Scope::Own;
    // The caller, and what the action targets.
    let (me, target) = match (action, own) {
        (A::Claim | A::Decide, true) => {
            let (me, sub) = t.holder_with_submission(h, action == A::Decide).await;
            (me, Prepared::Submission(sub))
        }
        (A::Claim, false) if expect == Expect::Ok => (t.holder(h).await, Prepared::Submission(t.applicant().await.1)),
        (A::Claim, false) => (t.holder(h).await, Prepared::Submission(t.pending)),
        (A::Decide, false) => {
            let me = t.holder(h).await;
            let (_, sub) = t.applicant().await;
            // An admin decides what they claimed; others face one the town's admin claimed.
            let reviewer = match expect {
                Expect::Ok => caller(me, expect),
                _ => t.admin.clone(),
            };
            t.r.review(&reviewer, sub, ReviewAction::Claim, None, &[]).await.unwrap();
            (me, Prepared::Submission(sub))
        }
        (A::GrantRole | A::RevokeRole, _) => {
            let me = t.holder(h).await;
            let held = match h {
                Holder::Role(r) if crate::residents::STAFF_ROLES.contains(&r) => Some(r),
                _ => None,
            };
            let (user, role) = match (action, own, me) {
                // Granting oneself a role one does not hold; revoking one's own (or, holding none,
                // a staff role).
                (A::GrantRole, true, Some(u)) => {
                    (u, if held == Some(Role::MaintenanceStaff) { Role::SalesAgent } else { Role::MaintenanceStaff })
                }
                (A::RevokeRole, true, Some(u)) => (u, held.unwrap_or(Role::MaintenanceStaff)),
                (A::GrantRole, _, _) => (new_user(), Role::MaintenanceStaff),
                _ => {
                    let u = new_user();
                    t.r.grant_role(&t.root, u, Role::MaintenanceStaff).await.unwrap();
                    (u, Role::MaintenanceStaff)
                }
            };
            (me, Prepared::Grant(user, role))
        }
        (A::ViewApplication | A::ViewRoles, false) => (t.holder(h).await, Prepared::User(t.pending_owner)),
        (A::Submit, _) if expect == Expect::Ok => (Some(t.drafted().await), Prepared::NoTarget),
        _ => (t.holder(h).await, Prepared::NoTarget),
    };
    let actor = caller(me, expect);
    let own_id = me.unwrap_or_else(new_user);
    let r = &t.r;
    let run = async {
        match (action, &target) {
            (A::Inquire, _) => r.inquire(&actor, t.inquiry()).await.map(|_| ()),
            (A::ReadInquiries, _) => r.inquiries(&actor, 5).await.map(|_| ()),
            (A::ReviewQueue, _) => r.review_queue(&actor, SubmissionStatus::PendingReview, 5).await.map(|_| ()),
            (A::SignUp, _) => r.sign_up(&actor).await.map(|_| ()),
            (A::SaveDraft, _) => r.save_draft(&actor, 1, step(1)).await.map(|_| ()),
            (A::Submit, _) => r.submit(&actor).await.map(|_| ()),
            (A::ViewApplication, Prepared::User(u)) => r.application(&actor, *u).await.map(|_| ()),
            (A::ViewApplication, _) => r.application(&actor, own_id).await.map(|_| ()),
            (A::ViewRoles, Prepared::User(u)) => r.roles(&actor, *u).await.map(|_| ()),
            (A::ViewRoles, _) => r.roles(&actor, own_id).await.map(|_| ()),
            (A::Claim, Prepared::Submission(s)) => {
                r.review(&actor, *s, ReviewAction::Claim, None, &[]).await.map(|_| ())
            }
            (A::Decide, Prepared::Submission(s)) => {
                r.review(&actor, *s, ReviewAction::Approve, None, &[]).await.map(|_| ())
            }
            (A::GrantRole, Prepared::Grant(u, role)) => r.grant_role(&actor, *u, *role).await.map(|_| ()),
            (A::RevokeRole, Prepared::Grant(u, role)) => r.revoke_role(&actor, *u, *role).await.map(|_| ()),
            _ => Err(Error::internal("no target prepared")),
        }
    };
    let cell = format!("{h:?} × {action} × {scope}");
    match expect {
        Expect::Ok => {
            if let Err(e) = run.await {
                panic!("{cell}: expected ok, got {e:?}");
            }
        }
        Expect::Refused(code) => {
            let e = refused(t.store(), code, run).await;
            assert_eq!(e.code, code, "{cell}");
        }
        Expect::Unreachable => {}
    }
}

/// Every (action, scope) cell for `holders`; returns how many ran.
pub async fn cells<S: Store + Clone + 'static>(t: &Town<S>, holders: &[Holder]) -> usize {
    let mut ran = 0;
    for (action, _) in ResidentAction::ALL {
        for scope in scopes(*action) {
            for h in holders {
                if expected(*h, *action, *scope) != Expect::Unreachable {
                    check_cell(t, *h, *action, *scope).await;
                    ran += 1;
                }
            }
        }
    }
    ran
}

/// Every cell of the matrix (18 action × scope pairs × 10 holders, less the 2 unreachable ones).
pub async fn every_cell<S: Store + Clone + 'static>(store: S) {
    let t = Town::new(store).await;
    assert_eq!(cells(&t, &HOLDERS).await, 178);
}

/// A sample of the matrix on every store: every (action, scope) pair for a super admin, a sales
/// agent, a pending resident, a resident and an anonymous caller.
pub async fn residents_access_matrix_sample<S: Store + Clone + 'static>(store: S) {
    let t = Town::new(store).await;
    let sample = [
        Holder::Role(Role::SuperAdmin),
        Holder::Role(Role::SalesAgent),
        Holder::Role(Role::PendingResident),
        Holder::Role(Role::Resident),
        Holder::Anonymous,
    ];
    assert_eq!(cells(&t, &sample).await, 18 * 5);
}

crate::conformance_cases!("residents"; residents_access_matrix_sample);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::residents::{acting_as, permits, ResidentRole, StoredRoles};

    /// The rows in `residents::access` agree with the matrix written from the seed: allowed exactly
    /// where [`expected`] says `ok`.
    #[test]
    fn the_rows_grant_exactly_the_ok_cells() {
        let mut n = 0;
        for h in HOLDERS {
            let actor = match h {
                Holder::Anonymous => Actor::Anonymous,
                Holder::Unassigned => Actor::user(new_user(), []),
                Holder::Role(Role::PendingResident) => acting_as(
                    &Actor::user(new_user(), []),
                    &StoredRoles { staff: vec![], resident: Some(ResidentRole::PendingResident) },
                ),
                Holder::Role(Role::Resident) => acting_as(
                    &Actor::user(new_user(), []),
                    &StoredRoles { staff: vec![], resident: Some(ResidentRole::Resident) },
                ),
                Holder::Role(r) => Actor::user(new_user(), [r]),
            };
            for (action, _) in ResidentAction::ALL {
                for scope in scopes(*action) {
                    match expected(h, *action, *scope) {
                        Expect::Unreachable => {}
                        e => {
                            assert_eq!(permits(&actor, *action, *scope), e == Expect::Ok, "{h:?} {action} {scope}");
                            n += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(n, 178);
    }
}
