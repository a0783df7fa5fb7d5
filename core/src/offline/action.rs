//! The domain actions a client may queue, and the envelope that numbers them.

use crate::actor::Actor;
use crate::homeheroes::commands::{
    CreateServiceRequest, RequestCommand, RequestOp, UpdateCivilianProfile, UpdateHeroProfile, UpdateProfile,
};
use crate::id::ClientId;
use crate::kernel::command::{Command, RecordSlot, RunError, Runner};
use crate::kernel::store::Store;
use crate::time::Timestamp;
use crate::validate::ValidationErrors;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One domain action, as queued by a client and applied by the server (each is a HomeHeroes
/// command; the JSON is `{"type": "create_service_request", …the command's fields}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Name and phone.
    UpdateProfile(UpdateProfile),
    /// Address and notification toggles.
    UpdateCivilianProfile(UpdateCivilianProfile),
    /// Skills, rate, hours, picture.
    UpdateHeroProfile(UpdateHeroProfile),
    /// Post a request; give it an `id` so later queued actions can name it.
    CreateServiceRequest(CreateServiceRequest),
    /// A workflow action on a request (`{"type": "service_request", "request_id": …, "action": "rate", "score": 5}`).
    ServiceRequest(RequestCommand),
}

impl Action {
    /// The command's stable name (`homeheroes.service_request.create`).
    pub fn name(&self) -> &'static str {
        match self {
            Action::UpdateProfile(_) => UpdateProfile::NAME,
            Action::UpdateCivilianProfile(_) => UpdateCivilianProfile::NAME,
            Action::UpdateHeroProfile(_) => UpdateHeroProfile::NAME,
            Action::CreateServiceRequest(_) => CreateServiceRequest::NAME,
            Action::ServiceRequest(_) => RequestCommand::NAME,
        }
    }

    /// The name its fingerprint is computed under (stable across command renames).
    pub fn fingerprint_name(&self) -> &'static str {
        match self {
            Action::UpdateProfile(_) => UpdateProfile::FINGERPRINT_NAME,
            Action::UpdateCivilianProfile(_) => UpdateCivilianProfile::FINGERPRINT_NAME,
            Action::UpdateHeroProfile(_) => UpdateHeroProfile::FINGERPRINT_NAME,
            Action::CreateServiceRequest(_) => CreateServiceRequest::FINGERPRINT_NAME,
            Action::ServiceRequest(_) => RequestCommand::FINGERPRINT_NAME,
        }
    }

    /// The same checks the server runs first, against `now`: every field error at once.
    ///
    /// Field paths are the action's JSON paths (`input.title`, `interest.phone`, `score`) — the
    /// same paths the server's rejection of this action carries ([`Action::locate`]).
    pub fn validate(&self, now: Timestamp) -> Result<(), ValidationErrors> {
        let checked = match self {
            Action::UpdateProfile(c) => c.input.validate().map(drop),
            Action::UpdateCivilianProfile(c) => c.input.validate().map(drop),
            Action::UpdateHeroProfile(c) => c.input.validate().map(drop),
            Action::CreateServiceRequest(c) => c.input.validate(now).map(drop),
            Action::ServiceRequest(c) => c.op.validate().map(drop),
        };
        checked.map_err(|e| match self.input_path() {
            Some(prefix) => e.prefixed(prefix),
            None => e,
        })
    }

    /// Where the command's input sits in the action's JSON (`input`, `interest`), if it is nested.
    fn input_path(&self) -> Option<&'static str> {
        match self {
            Action::UpdateProfile(_)
            | Action::UpdateCivilianProfile(_)
            | Action::UpdateHeroProfile(_)
            | Action::CreateServiceRequest(_) => Some("input"),
            Action::ServiceRequest(c) => match &c.op {
                RequestOp::ExpressInterest { .. } => Some("interest"),
                _ => None,
            },
        }
    }

    /// The command's error as an answer about this action: field errors (which the command reports
    /// on its input's paths, `title`) get the action's JSON paths (`input.title`), so a server's
    /// rejection names the same field as the client's [`Action::validate`].
    pub fn locate(&self, error: crate::Error) -> crate::Error {
        let (Some(prefix), false) = (self.input_path(), error.fields.is_empty()) else { return error };
        let mut v = crate::validate::Validator::new();
        for f in &error.fields {
            v.push(&format!("{prefix}.{}", f.field), f.violation.clone());
        }
        match v.finish(|| Some(())) {
            // The message names the fields too: rebuilt from the moved paths.
            Err(moved) if error.code == crate::error::ErrorCode::Validation => moved.into(),
            Err(moved) => crate::Error { fields: moved.into_errors(), ..error },
            Ok(()) => error,
        }
    }

    /// The entity this action creates, when the client named it.
    pub fn creates(&self) -> Option<Uuid> {
        match self {
            Action::CreateServiceRequest(c) => c.id.map(|id| id.as_uuid()),
            _ => None,
        }
    }

    /// The entity this action acts on, if it is one a queued action may create.
    pub fn acts_on(&self) -> Option<Uuid> {
        match self {
            Action::ServiceRequest(c) => Some(c.request_id.as_uuid()),
            _ => None,
        }
    }

    /// Runs the command, recording `slot` with its effects; the output as JSON.
    pub(crate) async fn apply<S: Store>(
        &self,
        runner: &Runner<S>,
        actor: &Actor,
        slot: &RecordSlot,
    ) -> Result<serde_json::Value, RunError> {
        fn json<T: Serialize>(v: T) -> Result<serde_json::Value, RunError> {
            serde_json::to_value(v).map_err(|e| RunError::Refused(crate::Error::internal(format!("output: {e}"))))
        }
        match self {
            Action::UpdateProfile(c) => json(runner.run(actor, None, c, Some(slot)).await?),
            Action::UpdateCivilianProfile(c) => json(runner.run(actor, None, c, Some(slot)).await?),
            Action::UpdateHeroProfile(c) => json(runner.run(actor, None, c, Some(slot)).await?),
            Action::CreateServiceRequest(c) => json(runner.run(actor, None, c, Some(slot)).await?),
            Action::ServiceRequest(c) => json(runner.run(actor, None, c, Some(slot)).await?),
        }
    }
}

/// An action numbered in its client's stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// The client stream.
    pub client_id: ClientId,
    /// 1, 2, 3, … without gaps.
    pub seq: u64,
    /// What to do.
    pub action: Action,
    /// When the user did it (client clock; informational).
    pub created_at: Timestamp,
    /// Earlier actions of the same stream this one needs: if one was rejected, so is this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<u64>,
}
