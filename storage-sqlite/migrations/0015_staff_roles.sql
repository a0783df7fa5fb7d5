-- hearth SQLite schema: Viramah staff roles (seed 002 §2 Group A `user_roles`, §3 "Role
-- Assignment Flow" step 4, §14 B "Role Isolation"). Every rule is core's; the named constraints are
-- the backstop.

-- One row per user and staff role, granted and revoked by super admins only; a revocation keeps the
-- row inactive (§2: soft deletes). The resident roles live in resident_standings.
CREATE TABLE user_roles (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    role        TEXT NOT NULL CONSTRAINT user_roles_staff_role CHECK (role IN ('super_admin', 'admin', 'sales_agent', 'canteen_staff', 'amenity_manager', 'maintenance_staff')),
    active      INTEGER NOT NULL CHECK (active IN (0, 1)),
    changed_by  TEXT NOT NULL,
    changed_at  INTEGER NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    CONSTRAINT user_roles_user_role_key UNIQUE (user_id, role),
    -- No self-elevation: an active grant was made by someone else (or the system).
    CONSTRAINT user_roles_not_self_granted CHECK (active = 0 OR changed_by <> user_id)
) STRICT;
CREATE INDEX user_roles_holders ON user_roles (role, changed_at) WHERE active = 1;

-- How many users hold each role: every grant and revocation of a role writes its roster, so changes
-- of one role serialize on its version (two super admins revoking each other cannot both commit).
CREATE TABLE user_role_rosters (
    id          TEXT PRIMARY KEY,
    role        TEXT NOT NULL CONSTRAINT user_role_rosters_role CHECK (role IN ('super_admin', 'admin', 'sales_agent', 'canteen_staff', 'amenity_manager', 'maintenance_staff')),
    holders     INTEGER NOT NULL CONSTRAINT user_role_rosters_holders CHECK (holders >= 0),
    updated_at  INTEGER NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    CONSTRAINT user_role_rosters_role_key UNIQUE (role),
    -- The last super admin cannot be removed.
    CONSTRAINT user_role_rosters_super_admin_kept CHECK (role <> 'super_admin' OR holders >= 1)
) STRICT;
