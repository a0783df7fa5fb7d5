//! Stored roles (Viramah §3 "Role Assignment Flow", §14 B "Role Isolation": "Roles are stored in a
//! separate `user_roles` table (not in the JWT claims alone) — JWT claims are verified against the
//! database on sensitive operations"; "Admin and staff roles can only be assigned by `SUPER_ADMIN` —
//! no self-elevation possible").
//!
//! What a user holds is what the store holds: their staff grants (`user_roles`, one row per user and
//! role, revoked rows kept inactive) and their resident role (`resident_standings`). The residents
//! domain decides on those alone — [`acting_as`] replaces the roles of the caller's `Actor` (the
//! token's claims) by the stored ones — so a claim that went stale (a user approved an hour ago
//! whose token still says `pending_resident`, a revoked admin's unexpired token) changes nothing.
//!
//! A per-role roster row counts the active holders and is written by every grant and revocation of
//! that role, so changes of one role serialize on its version: two super admins revoking each other
//! at once cannot both commit, and the last super admin cannot be removed.

use super::access::{permits, ResidentAction, Scope, STAFF_ROLES};
use super::standing::{ResidentRole, ResidentStanding};
use super::ResidentStore;
use crate::actor::{Actor, Role};
use crate::authz::Decision;
use crate::error::Error;
use crate::homeheroes::model::wire_enum;
use crate::id::UserId;
use crate::kernel::access::require;
use crate::kernel::entity::{Entity, EntityDecl, Readers, Shape, Unique};
use crate::kernel::query::{Dir, Query};
use crate::kernel::store::{ReadExt, Reader, StoreResult, Versioned};
use crate::kernel::value::{Decoded, Row, RowRead};
use crate::service::{Command, Decide};
use crate::time::Timestamp;
use crate::validate::{ValidationErrors, Validator, Violation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const ROLE_NAMESPACE: Uuid = Uuid::from_u128(0x7669_7261_6d61_6800_0000_0000_0000_0006);

/// A staff role granted to a user (the seed's `user_roles`). Keyed by `uuid5(user:role)`, so a user
/// holds a role at most once; a revocation keeps the row with `active = false` (§2: soft deletes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleGrant {
    /// `uuid5("<user>:<role>")`.
    pub id: Uuid,
    /// The holder.
    pub user_id: UserId,
    /// One of [`STAFF_ROLES`].
    pub role: Role,
    /// Held now.
    pub active: bool,
    /// Who granted or revoked it last (a user id, or `system`). INVARIANT: never the holder while
    /// active (no self-elevation; named CHECK `user_roles_not_self_granted`).
    pub changed_by: String,
    /// When.
    pub changed_at: Timestamp,
}

/// How many users hold a role: the serialization point of that role's changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRoster {
    /// `uuid5("roster:<role>")`.
    pub id: Uuid,
    /// The role.
    pub role: Role,
    /// Active grants of it. INVARIANT: ≥ 0, and ≥ 1 for `super_admin` once granted (named CHECKs).
    pub holders: i64,
    /// When last changed.
    pub updated_at: Timestamp,
}

/// The key of `user`'s grant of `role`.
pub fn grant_id(user: UserId, role: Role) -> Uuid {
    Uuid::new_v5(&ROLE_NAMESPACE, format!("{user}:{role}").as_bytes())
}

/// The key of `role`'s roster.
pub fn roster_id(role: Role) -> Uuid {
    Uuid::new_v5(&ROLE_NAMESPACE, format!("roster:{role}").as_bytes())
}

fn parse_role(s: &str) -> Option<Role> {
    Role::ALL.into_iter().find(|r| r.as_str() == s)
}

pub(super) static GRANT: EntityDecl = EntityDecl {
    kind: "residents.role_grant",
    aliases: &[],
    human: "role grant",
    table: "user_roles",
    key: "id",
    shape: Shape::Versioned,
    uniques: &[Unique { name: "user_roles_user_role_key", columns: &["user_id", "role"], when: None }],
    guards: &[],
};

pub(super) static ROSTER: EntityDecl = EntityDecl {
    kind: "residents.role_roster",
    aliases: &[],
    human: "role roster",
    table: "user_role_rosters",
    key: "id",
    shape: Shape::Versioned,
    uniques: &[Unique { name: "user_role_rosters_role_key", columns: &["role"], when: None }],
    guards: &[],
};

impl Entity for RoleGrant {
    const DECL: &'static EntityDecl = &GRANT;
    fn id(&self) -> Uuid {
        self.id
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id)
            .with("user_id", self.user_id.as_uuid())
            .with("role", self.role.as_str())
            .with("active", self.active)
            .with("changed_by", self.changed_by.as_str())
            .with("changed_at", self.changed_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(RoleGrant {
            id: r.uuid("id")?,
            user_id: UserId::from_uuid(r.uuid("user_id")?),
            role: r.wire("role", parse_role)?,
            active: r.bool("active")?,
            changed_by: r.text("changed_by")?,
            changed_at: r.ts("changed_at")?,
        })
    }
    /// The holder (and admins, who read everything).
    fn readers(&self) -> Readers {
        Readers::users([self.user_id])
    }
}

impl Entity for RoleRoster {
    const DECL: &'static EntityDecl = &ROSTER;
    fn id(&self) -> Uuid {
        self.id
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id)
            .with("role", self.role.as_str())
            .with("holders", self.holders)
            .with("updated_at", self.updated_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(RoleRoster {
            id: r.uuid("id")?,
            role: r.wire("role", parse_role)?,
            holders: r.int("holders")?,
            updated_at: r.ts("updated_at")?,
        })
    }
    /// Admins only.
    fn readers(&self) -> Readers {
        Readers::nobody()
    }
}

/// The roles the store holds for one user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRoles {
    /// Active staff grants, sorted.
    pub staff: Vec<Role>,
    /// The resident role of their standing, if they signed up.
    pub resident: Option<ResidentRole>,
}

impl StoredRoles {
    /// From the user's grant rows and standing.
    pub fn of(grants: &[Versioned<RoleGrant>], standing: Option<&ResidentStanding>) -> Self {
        let mut staff: Vec<Role> = grants.iter().filter(|g| g.value.active).map(|g| g.value.role).collect();
        staff.sort();
        staff.dedup();
        Self { staff, resident: standing.map(|s| s.role) }
    }
    /// Every role held, sorted.
    pub fn roles(&self) -> Vec<Role> {
        let mut all = self.staff.clone();
        all.extend(self.resident.map(|r| match r {
            ResidentRole::PendingResident => Role::PendingResident,
            ResidentRole::Resident => Role::Resident,
        }));
        all.sort();
        all
    }
}

/// `actor` with the roles the store holds instead of the ones it claims: what every residents
/// command and read decides on. The system and anonymous callers are unchanged.
pub fn acting_as(actor: &Actor, stored: &StoredRoles) -> Actor {
    match actor {
        Actor::User { user_id, tenant_id, .. } => {
            let a = Actor::user(*user_id, stored.roles());
            match tenant_id {
                Some(t) => a.in_tenant(*t),
                None => a,
            }
        }
        other => other.clone(),
    }
}

/// `actor` counted as a `resident` when their stored standing says so, whatever their token claims
/// (nothing is taken away: the KYC gate, [`super::require_kyc`], still decides on the standing).
/// For other domains' resident actions, which trust the host's `Actor` for staff roles.
pub fn with_standing(actor: &Actor, standing: Option<&ResidentStanding>) -> Actor {
    match (actor, standing) {
        (Actor::User { user_id, tenant_id, roles }, Some(s))
            if s.user_id == *user_id && s.role == ResidentRole::Resident && !roles.contains(&Role::Resident) =>
        {
            let a = Actor::user(*user_id, roles.iter().copied().chain([Role::Resident]));
            match tenant_id {
                Some(t) => a.in_tenant(*t),
                None => a,
            }
        }
        _ => actor.clone(),
    }
}

/// Role reads over any [`Reader`].
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait RoleStore: Reader {
    /// `user`'s grant rows (active and revoked), by role.
    async fn role_grants(&self, user: UserId) -> StoreResult<Vec<Versioned<RoleGrant>>> {
        self.find(Query::of::<RoleGrant>().eq("user_id", user.as_uuid()).order_by("role", Dir::Asc)).await
    }
    /// `role`'s roster.
    async fn role_roster(&self, role: Role) -> StoreResult<Option<Versioned<RoleRoster>>> {
        self.get(roster_id(role)).await
    }
    /// Everyone holding `role` now, oldest grant first.
    async fn role_holders(&self, role: Role) -> StoreResult<Vec<Versioned<RoleGrant>>> {
        self.find(
            Query::of::<RoleGrant>()
                .eq("role", role.as_str())
                .eq("active", true)
                .order_by("changed_at", Dir::Asc)
                .order_by("id", Dir::Asc),
        )
        .await
    }
}

impl<R: Reader + ?Sized> RoleStore for R {}

/// `user`'s stored roles, read through `store` (one command's snapshot, or a store).
pub async fn stored_roles(store: &dyn Reader, user: UserId) -> Result<StoredRoles, Error> {
    let grants = store.role_grants(user).await?;
    let standing = store.resident_standing(user).await?;
    Ok(StoredRoles::of(&grants, standing.as_ref().map(|s| &s.value)))
}

/// The caller with their stored roles (see [`acting_as`]), read through `store`.
pub async fn caller(store: &dyn Reader, actor: &Actor) -> Result<Actor, Error> {
    match actor.user_id() {
        Some(u) => Ok(acting_as(actor, &stored_roles(store, u).await?)),
        None => Ok(actor.clone()),
    }
}

wire_enum!(
    /// Grant or revoke.
    RoleChange {
        /// Give the role.
        Grant = "grant",
        /// Take it away.
        Revoke = "revoke",
    }
);

/// A super admin grants or revokes a staff role (§3 step 4). In one commit: the grant row (inserted,
/// re-activated or deactivated) and the role's roster, each audited and emitted.
///
/// Answers: only super admins (as stored) may — `forbidden` otherwise, also to admins and to a
/// super admin granting themselves; granting a role the user holds, or revoking one already revoked,
/// is `conflict` (so of racing super admins doing the same, one wins and the others are told
/// `conflict` whichever attempt they were on); revoking a role never granted is `not_found`; the
/// last super admin cannot be removed (`conflict`: it clashes with the stored state; a super admin
/// racing to revoke a fellow who revokes them back loses as `forbidden`, no longer holding the role).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignRole {
    /// The user.
    pub user_id: Option<UserId>,
    /// One of [`STAFF_ROLES`], by wire name.
    pub role: Option<String>,
    /// Grant or revoke.
    pub change: RoleChange,
}

/// What assigning a role reads, from one snapshot.
pub struct AssignScene {
    caller: StoredRoles,
    grant: Option<Versioned<RoleGrant>>,
    roster: Option<Versioned<RoleRoster>>,
}

impl AssignRole {
    /// Validates the input, without a store.
    pub fn check(&self) -> Result<(UserId, Role), ValidationErrors> {
        let mut v = Validator::new();
        let user = match self.user_id {
            Some(u) if !u.as_uuid().is_nil() => Some(u),
            _ => {
                v.push("user_id", Violation::Required);
                None
            }
        };
        let options: Vec<(&str, Role)> = STAFF_ROLES.iter().map(|r| (r.as_str(), *r)).collect();
        let role = v.one_of("role", self.role.as_deref(), &options);
        v.finish(|| Some((user?, role?)))
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for AssignRole {
    const NAME: &'static str = "residents.assign_role";
    type Valid = (UserId, Role);
    type Loaded = AssignScene;
    type Output = RoleGrant;

    fn validate(&self, _now: Timestamp) -> Result<(UserId, Role), ValidationErrors> {
        self.check()
    }
    async fn load(
        &self,
        store: &dyn Reader,
        actor: &Actor,
        (user, role): &(UserId, Role),
    ) -> Result<AssignScene, Error> {
        let caller = match actor.user_id() {
            Some(u) => stored_roles(store, u).await?,
            None => StoredRoles::default(),
        };
        Ok(AssignScene {
            caller,
            grant: store.get(grant_id(*user, *role)).await?,
            roster: store.role_roster(*role).await?,
        })
    }
    fn decide(
        &self,
        actor: &Actor,
        (user, role): &(UserId, Role),
        s: AssignScene,
        cx: &mut Decide<'_>,
    ) -> Result<RoleGrant, Error> {
        let me = acting_as(actor, &s.caller);
        let scope = if me.is(*user) { Scope::Own } else { Scope::Other };
        let (action, reason) = match self.change {
            RoleChange::Grant => (ResidentAction::GrantRole, "only super admins grant roles, and never to themselves"),
            RoleChange::Revoke => (ResidentAction::RevokeRole, "only super admins revoke roles"),
        };
        require(&me, Decision::when(permits(&me, action, scope), reason))?;
        let now = cx.now();
        let held = s.grant.as_ref().is_some_and(|g| g.value.active);
        let holders = s.roster.as_ref().map_or(0, |r| r.value.holders);
        let (active, delta) = match (self.change, &s.grant, held) {
            (RoleChange::Grant, _, true) => return Err(Error::conflict(format!("the user already holds `{role}`"))),
            (RoleChange::Grant, _, false) => (true, 1),
            (RoleChange::Revoke, None, _) => return Err(Error::not_found(&format!("`{role}` grant"))),
            (RoleChange::Revoke, Some(_), false) => {
                return Err(Error::conflict(format!("`{role}` is already revoked")));
            }
            (RoleChange::Revoke, Some(_), true) if *role == Role::SuperAdmin && holders <= 1 => {
                return Err(Error::conflict("the last super admin cannot be removed"));
            }
            (RoleChange::Revoke, Some(_), true) => (false, -1),
        };
        let after = RoleGrant {
            id: grant_id(*user, *role),
            user_id: *user,
            role: *role,
            active,
            changed_by: cx.actor_principal(),
            changed_at: now,
        };
        match &s.grant {
            Some(before) => cx.update(before, after.clone(), self.change.as_str())?,
            None => cx.insert(after.clone())?,
        }
        let roster = RoleRoster { id: roster_id(*role), role: *role, holders: holders + delta, updated_at: now };
        match &s.roster {
            Some(before) => cx.update(before, roster, self.change.as_str())?,
            None => cx.insert(roster)?,
        }
        Ok(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn only_staff_roles_are_assigned_and_a_user_is_required() {
        let ok = AssignRole {
            user_id: Some(UserId::from_uuid(Uuid::from_u128(9))),
            role: Some("maintenance_staff".into()),
            change: RoleChange::Grant,
        };
        assert_eq!(ok.check().unwrap().1, Role::MaintenanceStaff);
        for bad in ["resident", "pending_resident", "hero", "root", ""] {
            let e = AssignRole { role: Some(bad.into()), ..ok.clone() }.check().unwrap_err();
            assert_eq!(e.errors()[0].field, "role", "{bad}");
        }
        let e =
            AssignRole { user_id: Some(UserId::from_uuid(Uuid::nil())), role: None, ..ok.clone() }.check().unwrap_err();
        let fields: Vec<_> = e.errors().iter().map(|f| (f.field.as_str(), f.violation.code())).collect();
        assert_eq!(fields, [("user_id", "required"), ("role", "required")]);
        assert_eq!(Error::from(e).code, ErrorCode::Validation);
    }

    proptest::proptest! {
        /// No input panics; what passes names a user and a staff role.
        #[test]
        fn assign_role_inputs_never_panic(
            user in proptest::option::of(proptest::prelude::any::<u128>()),
            role in proptest::option::of("\\PC{0,30}|super_admin|admin|resident"),
            json in "\\PC{0,120}",
        ) {
            let input = AssignRole {
                user_id: user.map(|u| UserId::from_uuid(Uuid::from_u128(u))),
                role,
                change: RoleChange::Revoke,
            };
            if let Ok((u, r)) = input.check() {
                proptest::prop_assert!(!u.as_uuid().is_nil() && STAFF_ROLES.contains(&r));
            }
            let _ = serde_json::from_str::<AssignRole>(&json);
        }
    }

    #[test]
    fn stored_roles_replace_the_claimed_ones() {
        let u = UserId::from_uuid(Uuid::from_u128(3));
        let claims = Actor::user(u, [Role::SuperAdmin, Role::PendingResident]);
        let stored = StoredRoles { staff: vec![Role::CanteenStaff], resident: Some(ResidentRole::Resident) };
        let me = acting_as(&claims, &stored);
        assert!(me.has_role(Role::Resident) && me.has_role(Role::CanteenStaff));
        assert!(!me.has_role(Role::SuperAdmin) && !me.has_role(Role::PendingResident));
        assert_eq!(acting_as(&Actor::System, &stored), Actor::System);
    }
}
