//! State machines as data.
//!
//! A workflow is a [`Machine`]: a table of [`Row`]s (from-states, action, to-state, the parties that
//! may fire it, an optional named guard). The server enforces the table with [`Machine::fire`]; a
//! client asks the same table [`Machine::available`] — "which actions may this actor take now?" —
//! so the two can never disagree.

use crate::actor::{Actor, Role, RoleFamily};
use serde::Serialize;
use std::fmt;

/// Who may fire a transition: a relation to the entity (owner, assigned provider…), any holder of
/// a role or role family, or hearth itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Party<R> {
    /// The actor stands in this relation to the entity.
    Relation(R),
    /// The actor holds a role of this family.
    Family(RoleFamily),
    /// The actor holds this role.
    Role(Role),
    /// hearth itself (jobs, system commands).
    System,
}

/// A guard: a named condition on the workflow's context that must hold for the row to fire.
pub struct Guard<C> {
    /// Stable name, reported when the guard blocks (`interest_is_open`).
    pub name: &'static str,
    /// The condition.
    pub check: fn(&C) -> bool,
}

impl<C> fmt::Debug for Guard<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// One row of a transition table.
#[derive(Debug)]
pub struct Row<S: 'static, A, R: 'static, C> {
    /// The states the action may be fired from.
    pub from: &'static [S],
    /// The action.
    pub action: A,
    /// The state it leads to.
    pub to: S,
    /// Who may fire it (any one suffices).
    pub parties: &'static [Party<R>],
    /// A further condition, if any.
    pub guard: Option<Guard<C>>,
}

/// A workflow's transition table.
#[derive(Debug)]
pub struct Machine<S: 'static, A: 'static, R: 'static, C: 'static> {
    /// Stable workflow name (`service_request`).
    pub name: &'static str,
    /// The rows; at most one row per (from-state, action).
    pub rows: &'static [Row<S, A, R, C>],
}

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FireError {
    /// The action is not defined from the current state (or its guard does not hold).
    #[error(transparent)]
    Invalid(#[from] TransitionError),
    /// The action exists from this state, but the actor is none of its parties.
    #[error("not allowed: {0}")]
    Forbidden(String),
}

/// An illegal transition, naming the workflow, the state and the action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot `{action}` a {machine} that is `{state}`{}", guard.map(|g| format!(" (guard `{g}` does not hold)")).unwrap_or_default())]
pub struct TransitionError {
    /// The workflow.
    pub machine: &'static str,
    /// The current state's wire name.
    pub state: String,
    /// The action's wire name.
    pub action: String,
    /// The guard that blocked, if the row exists but its guard failed.
    pub guard: Option<&'static str>,
}

impl<S, A, R, C> Machine<S, A, R, C>
where
    S: Copy + PartialEq + fmt::Display,
    A: Copy + PartialEq + fmt::Display,
    R: Copy + PartialEq + fmt::Debug,
{
    fn row(&self, state: S, action: A) -> Option<&Row<S, A, R, C>> {
        self.rows.iter().find(|r| r.action == action && r.from.contains(&state))
    }

    /// Fires `action` from `state` for an actor holding `held` parties: the new state, or why not.
    pub fn fire(&self, state: S, action: A, held: &[Party<R>], ctx: &C) -> Result<S, FireError> {
        let invalid =
            |guard| TransitionError { machine: self.name, state: state.to_string(), action: action.to_string(), guard };
        let Some(row) = self.row(state, action) else {
            return Err(invalid(None).into());
        };
        if !row.parties.iter().any(|p| held.contains(p)) {
            return Err(FireError::Forbidden(format!(
                "only {} may `{action}` a {}",
                describe_parties(row.parties),
                self.name
            )));
        }
        if let Some(g) = &row.guard {
            if !(g.check)(ctx) {
                return Err(invalid(Some(g.name)).into());
            }
        }
        Ok(row.to)
    }

    /// The actions an actor holding `held` may fire from `state` now, in table order.
    pub fn available(&self, state: S, held: &[Party<R>], ctx: &C) -> Vec<A> {
        let mut out = Vec::new();
        for row in self.rows.iter().filter(|r| r.from.contains(&state)) {
            let permitted = row.parties.iter().any(|p| held.contains(p));
            let guarded = row.guard.as_ref().is_none_or(|g| (g.check)(ctx));
            if permitted && guarded && !out.contains(&row.action) {
                out.push(row.action);
            }
        }
        out
    }

    /// True when `from --action--> to` is a row of the table (used to check audit trails).
    pub fn permits(&self, from: S, action: A, to: S) -> bool {
        self.row(from, action).is_some_and(|r| r.to == to)
    }
}

fn describe_parties<R: fmt::Debug>(parties: &[Party<R>]) -> String {
    let names: Vec<String> = parties
        .iter()
        .map(|p| match p {
            Party::Relation(r) => to_snake(&format!("{r:?}")),
            Party::Family(f) => format!("{f:?}").to_lowercase(),
            Party::Role(r) => r.as_str().to_owned(),
            Party::System => "the system".to_owned(),
        })
        .collect();
    names.join(" or ")
}

fn to_snake(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push(' ');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The parties an actor holds toward an entity: its role families, its roles, `System` for the
/// system actor, plus the relations the workflow computed.
pub fn held_parties<R: Copy>(actor: &Actor, relations: &[R]) -> Vec<Party<R>> {
    let mut held: Vec<Party<R>> = relations.iter().map(|r| Party::Relation(*r)).collect();
    match actor {
        Actor::System => held.push(Party::System),
        Actor::User { roles, .. } => {
            for r in roles {
                held.push(Party::Role(*r));
                held.push(Party::Family(r.family()));
            }
        }
        Actor::Anonymous => {}
    }
    held
}
