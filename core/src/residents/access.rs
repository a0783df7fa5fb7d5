//! Who may do what in the residents domain (Viramah §3 "Role Taxonomy", "Role Assignment Flow", §4
//! "Cross-Domain Sales Portal Readiness", §5, §6, §11 "Access Matrix", §14 B "Role Isolation"), as
//! rows: who, an action, and the scopes (the caller's own data, or someone else's) under which they
//! may take it. Commands and reads ask [`permits`] with the caller's **stored** roles
//! ([`super::acting_as`]); a test enumerates every cell against the commands' real answers.
//!
//! Refusals follow the kernel's rules: anonymous callers get `unauthenticated`; someone else's data
//! the caller may not read is `not_found` (whether it exists does not leak); an action on something
//! the caller may see but not change is `forbidden`.

use crate::actor::{Actor, Role};

crate::homeheroes::model::wire_enum!(
    /// A residents action, as the matrix names it.
    ResidentAction {
        /// Submit an inquiry (§4: the only unauthenticated entry point).
        Inquire = "inquire",
        /// Read inquiries (§4: sales agents; admins read everything).
        ReadInquiries = "read_inquiries",
        /// Sign up as a pending resident (§3 step 1).
        SignUp = "sign_up",
        /// Save an onboarding step's draft (§5).
        SaveDraft = "save_draft",
        /// Submit (or resubmit) onboarding (§5 "Transactional Integrity", §6).
        Submit = "submit",
        /// Read a user's application: standing, drafts, submission, permanent record.
        ViewApplication = "view_application",
        /// Read the admin queue of submissions by status (§6 "Admin sees all `pending_review`").
        ReviewQueue = "review_queue",
        /// Claim a submission for review (§6: `pending_review → under_review`).
        Claim = "claim",
        /// Approve, reject or ask for revision of a claimed submission (§6).
        Decide = "decide",
        /// Grant a staff role (§3 step 4: "Staff roles are assigned manually by `SUPER_ADMIN` only").
        GrantRole = "grant_role",
        /// Revoke a staff role.
        RevokeRole = "revoke_role",
        /// Read a user's stored roles.
        ViewRoles = "view_roles",
    }
);

crate::homeheroes::model::wire_enum!(
    /// Whose data the action is on. Actions on no one's data (an inquiry, the queues) are `other`.
    Scope {
        /// The caller's own (their standing, their submission, their roles).
        Own = "own",
        /// Someone else's, or no one's.
        Other = "other",
    }
);

/// Who a row admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Everyone, anonymous callers included.
    Anyone,
    /// Every signed-in user.
    SignedIn,
    /// A signed-in user who holds no stored role at all (before signing up).
    Unassigned,
    /// Holders of the role (as the store holds it).
    Role(Role),
}

/// One cell group of the matrix: `who` may take `action` under any of `scopes`.
#[derive(Debug, Clone, Copy)]
pub struct AccessRow {
    /// Who.
    pub who: Who,
    /// The action.
    pub action: ResidentAction,
    /// The scopes under which it is allowed.
    pub scopes: &'static [Scope],
}

use ResidentAction as A;
use Scope as S;

const OWN: &[Scope] = &[S::Own];
const OTHER: &[Scope] = &[S::Other];
const BOTH: &[Scope] = &[S::Own, S::Other];

const fn row(who: Who, action: ResidentAction, scopes: &'static [Scope]) -> AccessRow {
    AccessRow { who, action, scopes }
}

macro_rules! admin_rows {
    ($role:expr) => {
        [
            row(Who::Role($role), A::ReadInquiries, OTHER),
            row(Who::Role($role), A::ViewApplication, BOTH),
            row(Who::Role($role), A::ViewRoles, BOTH),
            row(Who::Role($role), A::ReviewQueue, OTHER),
            // Nobody reviews their own submission.
            row(Who::Role($role), A::Claim, OTHER),
            row(Who::Role($role), A::Decide, OTHER),
        ]
    };
}

const ADMIN_ROWS: [AccessRow; 6] = admin_rows!(Role::Admin);
const SUPER_ADMIN_ROWS: [AccessRow; 6] = admin_rows!(Role::SuperAdmin);

const OTHER_ROWS: [AccessRow; 11] = [
    row(Who::Anyone, A::Inquire, OTHER),
    // Everyone signed in reads their own application and roles (possibly empty).
    row(Who::SignedIn, A::ViewApplication, OWN),
    row(Who::SignedIn, A::ViewRoles, OWN),
    // §3 step 1: a user signs up as a pending resident; staff accounts (granted a staff role and not
    // residents) do not onboard. Signing up again answers the standing unchanged.
    row(Who::Unassigned, A::SignUp, OWN),
    row(Who::Role(Role::PendingResident), A::SignUp, OWN),
    row(Who::Role(Role::Resident), A::SignUp, OWN),
    // §5: onboarding is the pending resident's own.
    row(Who::Role(Role::PendingResident), A::SaveDraft, OWN),
    row(Who::Role(Role::PendingResident), A::Submit, OWN),
    // §4: "RLS policies that allow `SALES_AGENT` role reads"; §11: the sales portal reads inquiries
    // only.
    row(Who::Role(Role::SalesAgent), A::ReadInquiries, OTHER),
    // §3 step 4 / §14 B: "Admin and staff roles can only be assigned by `SUPER_ADMIN` — no
    // self-elevation possible". A super admin may step down (revoke their own role) unless they are
    // the last one (the command refuses that).
    row(Who::Role(Role::SuperAdmin), A::GrantRole, OTHER),
    row(Who::Role(Role::SuperAdmin), A::RevokeRole, BOTH),
];

/// The matrix. Rows only grant; whatever no row grants is refused.
pub static ACCESS: [&[AccessRow]; 3] = [&OTHER_ROWS, &ADMIN_ROWS, &SUPER_ADMIN_ROWS];

/// Every row of the matrix.
pub fn rows() -> impl Iterator<Item = &'static AccessRow> {
    ACCESS.iter().flat_map(|r| r.iter())
}

/// The roles a super admin assigns (§3's taxonomy less the resident roles, which the onboarding
/// flow assigns).
pub const STAFF_ROLES: [Role; 6] =
    [Role::SuperAdmin, Role::Admin, Role::SalesAgent, Role::CanteenStaff, Role::AmenityManager, Role::MaintenanceStaff];

/// The actions the system actor takes: it reads, and it grants and revokes roles (the first super
/// admin is granted by the system: a deployment's setup). It never onboards or reviews.
const SYSTEM_ACTIONS: [ResidentAction; 7] =
    [A::Inquire, A::ReadInquiries, A::ViewApplication, A::ReviewQueue, A::ViewRoles, A::GrantRole, A::RevokeRole];

/// True when `actor` — whose roles must be the stored ones ([`super::acting_as`]) — may take
/// `action` under `scope`.
pub fn permits(actor: &Actor, action: ResidentAction, scope: Scope) -> bool {
    let roles: &[Role] = match actor {
        Actor::System => return SYSTEM_ACTIONS.contains(&action),
        Actor::Anonymous => &[],
        Actor::User { roles, .. } => roles,
    };
    rows().filter(|r| r.action == action && r.scopes.contains(&scope)).any(|r| match r.who {
        Who::Anyone => true,
        Who::SignedIn => !matches!(actor, Actor::Anonymous),
        Who::Unassigned => matches!(actor, Actor::User { .. }) && roles.is_empty(),
        Who::Role(role) => roles.contains(&role),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::UserId;

    #[test]
    fn rows_name_only_viramah_roles_and_the_system_never_onboards() {
        let viramah = [
            Role::Resident,
            Role::PendingResident,
            Role::MaintenanceStaff,
            Role::Admin,
            Role::SuperAdmin,
            Role::SalesAgent,
            Role::CanteenStaff,
            Role::AmenityManager,
        ];
        for r in rows() {
            if let Who::Role(role) = r.who {
                assert!(viramah.contains(&role), "{role}");
            }
        }
        for a in [A::SignUp, A::SaveDraft, A::Submit, A::Claim, A::Decide] {
            assert!(!permits(&Actor::System, a, Scope::Own) && !permits(&Actor::System, a, Scope::Other));
        }
        // A marketplace role is not a Viramah role: it is refused like an unassigned user is not.
        let hero = Actor::user(UserId::from_uuid(uuid::Uuid::from_u128(1)), [Role::Hero]);
        assert!(!permits(&hero, A::SignUp, Scope::Own));
        assert!(permits(&hero, A::ViewRoles, Scope::Own));
    }
}
