//! Access helpers every domain uses: turning an authorization [`Decision`] into the one right error,
//! and hiding what a caller may not see.
//!
//! The rules, decided once here:
//! - an anonymous caller refused anything is `unauthenticated`;
//! - a signed-in caller refused an action on something they may see is `forbidden` (with the
//!   policy's reason);
//! - something a caller may not see is `not_found`, never `forbidden`, so existence does not leak;
//! - something a caller could see until a concurrent change took it out of their sight (a pending
//!   request assigned to another hero) is `conflict` ("already taken"): the caller lost a race, and
//!   what they knew existed still does. The runner applies the same rule to retries
//!   ([`crate::kernel::command::Runner`]).

use crate::actor::Actor;
use crate::authz::Decision;
use crate::error::Error;

/// `Ok` when allowed; else `unauthenticated` for anonymous callers and `forbidden` with the reason.
pub fn require(actor: &Actor, decision: Decision) -> Result<(), Error> {
    match (decision.allowed, actor) {
        (true, _) => Ok(()),
        (false, Actor::Anonymous) => Err(Error::unauthenticated()),
        (false, _) => Err(Error::forbidden(decision.reason)),
    }
}

/// `Ok` when `visible`; else `unauthenticated` for anonymous callers and `not_found` (naming
/// `what`) for everyone else, so existence does not leak.
pub fn require_visible(actor: &Actor, visible: bool, what: &str) -> Result<(), Error> {
    match (visible, actor) {
        (true, _) => Ok(()),
        (false, Actor::Anonymous) => Err(Error::unauthenticated()),
        (false, _) => Err(Error::not_found(what)),
    }
}

/// Like [`require_visible`], for something the caller may have seen before a change took it out of
/// their sight: when `was_public` (it was open to every signed-in user, so its existence is no
/// secret) the caller lost a race and gets `conflict` with `taken` as the message.
pub fn require_visible_or_taken(
    actor: &Actor,
    visible: bool,
    was_public: bool,
    what: &str,
    taken: &str,
) -> Result<(), Error> {
    match (visible, actor) {
        (true, _) => Ok(()),
        (false, Actor::Anonymous) => Err(Error::unauthenticated()),
        (false, _) if was_public => Err(Error::conflict(taken)),
        (false, _) => Err(Error::not_found(what)),
    }
}

/// The entity or `not_found` naming `what`.
pub fn found<T>(value: Option<T>, what: &str) -> Result<T, Error> {
    value.ok_or_else(|| Error::not_found(what))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::Role;
    use crate::error::ErrorCode;
    use crate::id::UserId;

    #[test]
    fn each_refusal_has_one_code() {
        let user = Actor::user(UserId::from_uuid(uuid::Uuid::from_u128(1)), [Role::Civilian]);
        let deny = || Decision::deny("only owners");
        assert_eq!(require(&Actor::Anonymous, deny()).unwrap_err().code, ErrorCode::Unauthenticated);
        assert_eq!(require(&user, deny()).unwrap_err().code, ErrorCode::Forbidden);
        assert!(require(&user, Decision::allow("owner")).is_ok());
        assert_eq!(require_visible(&user, false, "request").unwrap_err().code, ErrorCode::NotFound);
        assert_eq!(require_visible(&Actor::Anonymous, false, "request").unwrap_err().code, ErrorCode::Unauthenticated);
        let taken = require_visible_or_taken(&user, false, true, "request", "already taken").unwrap_err();
        assert_eq!(taken.code, ErrorCode::Conflict);
        let hidden = require_visible_or_taken(&user, false, false, "request", "already taken").unwrap_err();
        assert_eq!(hidden.code, ErrorCode::NotFound);
    }
}
