//! Who may do what to a maintenance request (Viramah §10 "Resident Visibility Rules", "Management
//! Portal Access Rules", §11 "Access Matrix"), as rows: a role, an action, and the relations to the
//! request under which the role may take it. Commands ask [`permits`]; a test enumerates every cell.

use crate::actor::{Actor, Role};

crate::homeheroes::model::wire_enum!(
    /// A maintenance action, as the matrix names it.
    MaintenanceAction {
        /// Raise a request.
        Submit = "submit",
        /// Read one request (residents through their own view, which hides staff).
        ViewRequest = "view_request",
        /// Read the hostel's live queue.
        ViewQueue = "view_queue",
        /// Take an unassigned request for oneself.
        Claim = "claim",
        /// Assign or reassign a request to a staff member (override).
        Assign = "assign",
        /// Start, put on hold, resolve.
        ChangeStatus = "change_status",
        /// Reject with a reason (override).
        Reject = "reject",
        /// Comment visibly to the resident.
        Comment = "comment",
        /// Comment for staff only.
        CommentStaffOnly = "comment_staff_only",
        /// Read staff-only comments, the status history and who changed what.
        ReadStaffRecords = "read_staff_records",
        /// See who is assigned.
        SeeAssignee = "see_assignee",
        /// Add a photo or video.
        AddAttachment = "add_attachment",
        /// Get a signed link to an attachment.
        AttachmentUrl = "attachment_url",
        /// Aggregate reports.
        Reports = "reports",
    }
);

crate::homeheroes::model::wire_enum!(
    /// How the caller stands toward the request (or, for queue and reports, toward the hostel).
    Ownership {
        /// The resident who raised it.
        Own = "own",
        /// The staff member it is actively assigned to.
        Assigned = "assigned",
        /// Someone of the same hostel, neither of the above.
        Hostel = "hostel",
        /// Someone of another hostel (or of none).
        Outside = "outside",
    }
);

use MaintenanceAction as A;
use Ownership as O;

/// One cell group of the matrix: `role` may take `action` under any of `scopes`.
#[derive(Debug, Clone, Copy)]
pub struct AccessRow {
    /// The role.
    pub role: Role,
    /// The action.
    pub action: MaintenanceAction,
    /// The relations under which it is allowed.
    pub scopes: &'static [Ownership],
}

const ANY: &[Ownership] = &[O::Own, O::Assigned, O::Hostel, O::Outside];
const OWN: &[Ownership] = &[O::Own];
const ASSIGNED: &[Ownership] = &[O::Assigned];
const HOSTEL: &[Ownership] = &[O::Assigned, O::Hostel];
const HOSTEL_UNASSIGNED: &[Ownership] = &[O::Hostel];

const fn row(role: Role, action: MaintenanceAction, scopes: &'static [Ownership]) -> AccessRow {
    AccessRow { role, action, scopes }
}

macro_rules! admin_rows {
    ($role:expr) => {
        [
            row($role, A::ViewRequest, ANY),
            row($role, A::ViewQueue, ANY),
            row($role, A::Assign, ANY),
            row($role, A::ChangeStatus, ANY),
            row($role, A::Reject, ANY),
            row($role, A::Comment, ANY),
            row($role, A::CommentStaffOnly, ANY),
            row($role, A::ReadStaffRecords, ANY),
            row($role, A::SeeAssignee, ANY),
            row($role, A::AttachmentUrl, ANY),
            row($role, A::Reports, ANY),
        ]
    };
}

const ADMIN_ROWS: [AccessRow; 11] = admin_rows!(Role::Admin);
const SUPER_ADMIN_ROWS: [AccessRow; 11] = admin_rows!(Role::SuperAdmin);

const OTHER_ROWS: [AccessRow; 14] = [
    // Residents: their own requests only; they create, comment and attach, and never change status,
    // assignment or anyone else's data (§10 "Resident Visibility Rules").
    row(Role::Resident, A::Submit, OWN),
    row(Role::Resident, A::ViewRequest, OWN),
    row(Role::Resident, A::Comment, OWN),
    row(Role::Resident, A::AddAttachment, OWN),
    row(Role::Resident, A::AttachmentUrl, OWN),
    // Maintenance staff: every request of their hostel; changes and comments only on requests
    // assigned to them (§10 "Management Portal Access Rules").
    row(Role::MaintenanceStaff, A::ViewRequest, HOSTEL),
    row(Role::MaintenanceStaff, A::ViewQueue, HOSTEL),
    row(Role::MaintenanceStaff, A::Claim, HOSTEL_UNASSIGNED),
    row(Role::MaintenanceStaff, A::ChangeStatus, ASSIGNED),
    row(Role::MaintenanceStaff, A::Comment, ASSIGNED),
    row(Role::MaintenanceStaff, A::CommentStaffOnly, ASSIGNED),
    row(Role::MaintenanceStaff, A::ReadStaffRecords, HOSTEL),
    row(Role::MaintenanceStaff, A::SeeAssignee, HOSTEL),
    row(Role::MaintenanceStaff, A::AttachmentUrl, HOSTEL),
];

/// The matrix. Roles not listed (sales agents, canteen staff, amenity managers, pending residents,
/// the other products' roles) may do nothing with maintenance requests.
pub static ACCESS: [&[AccessRow]; 3] = [&OTHER_ROWS, &ADMIN_ROWS, &SUPER_ADMIN_ROWS];

/// Every row of the matrix.
pub fn rows() -> impl Iterator<Item = &'static AccessRow> {
    ACCESS.iter().flat_map(|r| r.iter())
}

/// True when `role` may take `action` under `ownership`.
pub fn role_permits(role: Role, action: MaintenanceAction, ownership: Ownership) -> bool {
    rows().any(|r| r.role == role && r.action == action && r.scopes.contains(&ownership))
}

/// True when any of `actor`'s roles may take `action` under `ownership` (the system actor takes
/// no matrix action: its one action, escalation, is a row of the state machine).
pub fn permits(actor: &Actor, action: MaintenanceAction, ownership: Ownership) -> bool {
    match actor {
        Actor::User { roles, .. } => roles.iter().any(|r| role_permits(*r, action, ownership)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::UserId;

    /// The matrix written out cell by cell, independently of [`ACCESS`], from Viramah §10 "Resident
    /// Visibility Rules" ("Residents can only read their own requests", "can create new requests but
    /// cannot modify status, assignment or other residents' data", "cannot see staff assignment
    /// details"), "Management Portal Access Rules" ("MAINTENANCE_STAFF can read all requests …
    /// (filtered by hostel_id)", "can update status and insert comments only on requests assigned to
    /// them", "ADMIN role can read, reassign, and override any request", "SUPER_ADMIN has full access
    /// including … reporting queries") and §11 (sales, canteen and amenity portals: no maintenance
    /// data). Letters: o = own, a = assigned, h = same hostel, x = outside.
    fn expected(role: Role, action: MaintenanceAction) -> &'static str {
        use MaintenanceAction as A;
        match (role, action) {
            (Role::Resident, A::Submit | A::ViewRequest | A::Comment | A::AddAttachment | A::AttachmentUrl) => "o",
            (Role::Resident, _) => "",
            (Role::MaintenanceStaff, A::ViewRequest | A::ViewQueue | A::ReadStaffRecords | A::SeeAssignee) => "ah",
            (Role::MaintenanceStaff, A::AttachmentUrl) => "ah",
            (Role::MaintenanceStaff, A::Claim) => "h",
            (Role::MaintenanceStaff, A::ChangeStatus | A::Comment | A::CommentStaffOnly) => "a",
            (Role::MaintenanceStaff, _) => "",
            (Role::Admin | Role::SuperAdmin, A::Submit | A::Claim | A::AddAttachment) => "",
            (Role::Admin | Role::SuperAdmin, _) => "oahx",
            (Role::SalesAgent | Role::CanteenStaff | Role::AmenityManager, _) => "",
            _ => "",
        }
    }

    fn letter(o: Ownership) -> char {
        match o {
            Ownership::Own => 'o',
            Ownership::Assigned => 'a',
            Ownership::Hostel => 'h',
            Ownership::Outside => 'x',
        }
    }

    #[test]
    fn every_cell_of_the_access_matrix() {
        let roles = [
            Role::Resident,
            Role::MaintenanceStaff,
            Role::Admin,
            Role::SuperAdmin,
            Role::SalesAgent,
            Role::CanteenStaff,
            Role::AmenityManager,
        ];
        let mut cells = 0;
        for role in roles {
            let actor = Actor::user(UserId::from_uuid(uuid::Uuid::from_u128(1)), [role]);
            for (action, _) in MaintenanceAction::ALL {
                for (o, _) in Ownership::ALL {
                    let want = expected(role, *action).contains(letter(*o));
                    assert_eq!(role_permits(role, *action, *o), want, "{role} {action} {o}");
                    assert_eq!(permits(&actor, *action, *o), want, "{role} {action} {o} (actor)");
                    cells += 1;
                }
            }
        }
        assert_eq!(cells, 7 * 14 * 4);
        // Every other role, the system and anonymous callers take no matrix action.
        for role in Role::ALL.into_iter().filter(|r| !roles.contains(r)) {
            assert!(!rows().any(|r| r.role == role), "{role} has rows");
        }
        for (action, _) in MaintenanceAction::ALL {
            assert!(!permits(&Actor::System, *action, Ownership::Hostel));
            assert!(!permits(&Actor::Anonymous, *action, Ownership::Own));
        }
    }
}
