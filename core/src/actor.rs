//! Who is calling: an [`Actor`] with a user id, an optional tenant and a set of [`Role`]s.

use crate::id::{TenantId, UserId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Every role the five products use. The names are the stable wire form (`snake_case`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Khedma / Thorbis customer.
    Customer,
    /// HomeHeroes customer.
    Civilian,
    /// Khedma client (customer side).
    Client,
    /// Khedma service provider.
    Provider,
    /// HomeHeroes provider.
    Hero,
    /// Staff administrator.
    Admin,
    /// Platform-wide administrator.
    SuperAdmin,
    /// Viramah canteen kitchen staff.
    CanteenStaff,
    /// Viramah amenity manager.
    AmenityManager,
    /// Viramah maintenance staff.
    MaintenanceStaff,
    /// Sales agent.
    SalesAgent,
    /// Viramah resident whose onboarding is not yet approved.
    PendingResident,
    /// Viramah approved resident.
    Resident,
}

impl Role {
    /// All roles, in declaration order.
    pub const ALL: [Role; 13] = [
        Role::Customer,
        Role::Civilian,
        Role::Client,
        Role::Provider,
        Role::Hero,
        Role::Admin,
        Role::SuperAdmin,
        Role::CanteenStaff,
        Role::AmenityManager,
        Role::MaintenanceStaff,
        Role::SalesAgent,
        Role::PendingResident,
        Role::Resident,
    ];

    /// The side of a marketplace or organisation this role belongs to.
    pub fn family(self) -> RoleFamily {
        match self {
            Role::Customer | Role::Civilian | Role::Client => RoleFamily::Customer,
            Role::Provider | Role::Hero => RoleFamily::Provider,
            Role::Admin | Role::SuperAdmin => RoleFamily::Admin,
            Role::CanteenStaff | Role::AmenityManager | Role::MaintenanceStaff | Role::SalesAgent => RoleFamily::Staff,
            Role::PendingResident | Role::Resident => RoleFamily::Resident,
        }
    }

    /// The wire name (`super_admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Civilian => "civilian",
            Role::Client => "client",
            Role::Provider => "provider",
            Role::Hero => "hero",
            Role::Admin => "admin",
            Role::SuperAdmin => "super_admin",
            Role::CanteenStaff => "canteen_staff",
            Role::AmenityManager => "amenity_manager",
            Role::MaintenanceStaff => "maintenance_staff",
            Role::SalesAgent => "sales_agent",
            Role::PendingResident => "pending_resident",
            Role::Resident => "resident",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The seeds' role taxonomies, folded: each product names its customer and provider differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleFamily {
    /// customer / civilian / client
    Customer,
    /// provider / hero
    Provider,
    /// admin / super_admin
    Admin,
    /// canteen, amenity, maintenance and sales staff
    Staff,
    /// pending_resident / resident
    Resident,
}

/// The caller of a command.
///
/// `Anonymous` is explicit: an unauthenticated caller is a value, never a missing id, and every
/// authorization rule states what it may do (usually nothing).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// No authenticated user.
    Anonymous,
    /// An authenticated user.
    User {
        /// The user's id (the auth subject).
        user_id: UserId,
        /// The tenant the session is scoped to, for multi-tenant products.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tenant_id: Option<TenantId>,
        /// The user's roles; sorted and deduplicated.
        roles: Vec<Role>,
    },
    /// hearth itself (jobs, triggers' replacements). Recorded as `system` in audit trails.
    System,
}

impl Actor {
    /// An authenticated user with the given roles.
    pub fn user(user_id: UserId, roles: impl IntoIterator<Item = Role>) -> Self {
        let mut roles: Vec<Role> = roles.into_iter().collect();
        roles.sort();
        roles.dedup();
        Actor::User { user_id, tenant_id: None, roles }
    }
    /// The same actor scoped to `tenant`.
    pub fn in_tenant(self, tenant: TenantId) -> Self {
        match self {
            Actor::User { user_id, roles, .. } => Actor::User { user_id, tenant_id: Some(tenant), roles },
            other => other,
        }
    }
    /// The user id, if authenticated.
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Actor::User { user_id, .. } => Some(*user_id),
            _ => None,
        }
    }
    /// The tenant, if any.
    pub fn tenant_id(&self) -> Option<TenantId> {
        match self {
            Actor::User { tenant_id, .. } => *tenant_id,
            _ => None,
        }
    }
    /// True when the actor holds `role`.
    pub fn has_role(&self, role: Role) -> bool {
        matches!(self, Actor::User { roles, .. } if roles.contains(&role))
    }
    /// True when the actor holds any role of `family`.
    pub fn has_family(&self, family: RoleFamily) -> bool {
        matches!(self, Actor::User { roles, .. } if roles.iter().any(|r| r.family() == family))
    }
    /// True for `User` actors whose id is `user`.
    pub fn is(&self, user: UserId) -> bool {
        self.user_id() == Some(user)
    }
    /// True for admins and super admins.
    pub fn is_admin(&self) -> bool {
        self.has_family(RoleFamily::Admin)
    }
    /// The principal as recorded in audit trails and idempotency scopes: the user id or `system`.
    pub fn principal(&self) -> String {
        match self {
            Actor::Anonymous => "anonymous".to_owned(),
            Actor::User { user_id, .. } => user_id.to_string(),
            Actor::System => "system".to_owned(),
        }
    }
}

impl fmt::Debug for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Anonymous => f.write_str("Anonymous"),
            Actor::System => f.write_str("System"),
            Actor::User { user_id, tenant_id, roles } => {
                write!(f, "User({user_id}")?;
                if let Some(t) = tenant_id {
                    write!(f, " @{t}")?;
                }
                write!(f, " {roles:?})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn roles_are_sorted_and_families_fold_the_taxonomies() {
        let id = UserId::from_uuid(Uuid::from_u128(1));
        let a = Actor::user(id, [Role::Hero, Role::Admin, Role::Hero]);
        assert!(a.has_role(Role::Hero) && a.is_admin() && !a.has_role(Role::Civilian));
        assert!(a.has_family(RoleFamily::Provider));
        assert_eq!(Role::Client.family(), RoleFamily::Customer);
        assert_eq!(serde_json::to_value(&a).unwrap()["roles"], serde_json::json!(["hero", "admin"]));
        assert!(!Actor::Anonymous.is(id) && Actor::System.principal() == "system");
        for r in Role::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), serde_json::json!(r.as_str()));
        }
    }
}
