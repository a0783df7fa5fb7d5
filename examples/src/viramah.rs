//! Viramah's residence lifecycle (seed 002 §3–§6) on any store, as a host runs it: staff accounts
//! granted by a super admin, every caller's `Actor` built from the roles the store holds
//! ([`Residents::actor`]), and a resident admitted through the real flow — inquiry, onboarding
//! drafts, submission, an admin's claim, a revision request, the resubmission and the approval.
//!
//! The `residents` binary tells this story; the `maintenance` binary starts from a resident
//! admitted by [`Desk::admit`].

use hearth_core::id::{IdSource, TenantId, UserId};
use hearth_core::kernel::entity::Entity;
use hearth_core::notifications::Notifications;
use hearth_core::residents::{Residents, ReviewAction, RoleStore, StepInput, SubmissionStatus, SubmitInquiry};
use hearth_core::rooms::{RoomStore, Rooms};
use hearth_core::store::Store;
use hearth_core::{Actor, Clock, Error, Role};
use std::sync::Arc;

/// Prints what happens, or nothing.
pub type Say<'a> = &'a dyn Fn(&str);

/// Says nothing.
pub fn quiet(_: &str) {}

/// Prints each line indented.
pub fn aloud(line: &str) {
    println!("  {line}");
}

/// The front desk: the services, and the staff a deployment starts with.
pub struct Desk<S> {
    /// Residents (roles, inquiries, onboarding, approvals).
    pub residents: Residents<S>,
    /// Rooms (beds soft-reserved during onboarding, confirmed on approval).
    pub rooms: Rooms<S>,
    /// Notifications (the admin inbox, the resident's welcome).
    pub notifications: Notifications<S>,
    /// The first super admin (granted by the system: the deployment's setup).
    pub root: Actor,
    /// An admin the super admin appointed.
    pub admin: Actor,
    ids: Arc<dyn IdSource>,
}

impl<S: Store + Clone> Desk<S> {
    /// Opens the desk over `store`: the system grants the first super admin, who appoints an admin.
    pub async fn open(store: S, clock: Arc<dyn Clock>, ids: Arc<dyn IdSource>, say: Say<'_>) -> Result<Self, Error> {
        let residents = Residents::new(store.clone(), clock.clone(), ids.clone());
        let rooms = Rooms::new(store.clone(), clock.clone(), ids.clone());
        let notifications = Notifications::new(store, clock, ids.clone());
        let (root_id, admin_id) = (UserId::generate(ids.as_ref()), UserId::generate(ids.as_ref()));
        residents.grant_role(&Actor::System, root_id, Role::SuperAdmin).await?;
        let root = residents.actor(root_id, None).await?;
        residents.grant_role(&root, admin_id, Role::Admin).await?;
        let admin = residents.actor(admin_id, None).await?;
        say(&format!("setup: the system granted the first super admin; they appointed an admin ({admin:?})"));
        Ok(Self { residents, rooms, notifications, root, admin, ids })
    }

    /// A new staff member holding `role`, granted by the super admin; the actor is built from the
    /// store, scoped to `tenant`.
    pub async fn hire(&self, role: Role, tenant: Option<TenantId>) -> Result<Actor, Error> {
        let user = UserId::generate(self.ids.as_ref());
        self.residents.grant_role(&self.root, user, role).await?;
        self.residents.actor(user, tenant).await
    }

    /// Admits `name` through the whole flow and returns their actor as a host builds it after the
    /// approval (roles from the store: `resident`).
    pub async fn admit(&self, name: &str, phone: &str, say: Say<'_>) -> Result<Actor, Error> {
        let r = &self.residents;
        let email = format!("{}@example.com", name.to_lowercase().replace(' ', "."));
        let inquiry = SubmitInquiry {
            name: Some(name.into()),
            email: Some(email.clone()),
            phone: Some(phone.into()),
            message: Some("Looking for a room from July.".into()),
            ip: Some("203.0.113.10".into()),
            device_fingerprint: None,
        };
        let receipt = r.inquire(&Actor::Anonymous, inquiry).await?;
        say(&format!("§4 inquiry from {email} (anonymous): received, duplicate = {}", receipt.duplicate));

        let user = UserId::generate(self.ids.as_ref());
        r.sign_up(&Actor::user(user, [])).await?;
        let me = r.actor(user, None).await?;
        say(&format!("§3 {name} signed up: the store says {:?}", r.roles(&me, user).await?.roles()));

        let tag = UserId::generate(self.ids.as_ref()).to_string();
        let room = self.rooms.add_room(&self.admin, &format!("B-{}", &tag[tag.len() - 4..]), 2).await?;
        let bed = self.rooms.reserve(&me, room.id, true).await?;
        say(&format!(
            "§5 step 3: bed soft-reserved in room {} with the lunchbox (+{})",
            room.number, bed.additional_charge
        ));
        for (k, data) in steps(name, bed.id, "non_veg").into_iter().enumerate() {
            r.save_draft(&me, k as i64 + 1, data).await?;
        }
        say("§5 drafts saved for steps 1–4 (each validated on save)");

        let sub = r.submit(&me).await?;
        say(&format!("§5 submitted in one commit: {} (attempt {})", sub.status, sub.attempt));
        let queue = r.review_queue(&self.admin, SubmissionStatus::PendingReview, 10).await?;
        say(&format!("§6 the admin's queue holds {} submission(s) pending review", queue.len()));

        let s = r.review(&self.admin, sub.id, ReviewAction::Claim, None, &[]).await?;
        say(&format!("§6 the admin claimed it: {}", s.status));
        let s = r.review(&self.admin, sub.id, ReviewAction::RequestRevision, None, &["diet"]).await?;
        say(&format!("§6 needs revision, flagged {:?}", s.flagged_fields));

        // Only the flagged field may change (§6): the other step-4 field stays as it was.
        let fix = StepInput { diet: Some("veg".into()), notes: Some(String::new()), ..StepInput::default() };
        r.save_draft(&me, 4, fix).await?;
        let s = r.submit(&me).await?;
        say(&format!("§6 {name} corrected the diet and resubmitted: {} (attempt {})", s.status, s.attempt));

        r.review(&self.admin, sub.id, ReviewAction::Claim, None, &[]).await?;
        let s = r.review(&self.admin, sub.id, ReviewAction::Approve, None, &[]).await?;
        let standing = r.standing(&me, user).await?;
        let reservation = self.rooms.runner().store().reservation(bed.id).await?;
        say(&format!(
            "§6 {}: role {}, KYC complete {}, bed {}",
            s.status,
            standing.role,
            standing.kyc_complete,
            reservation.map(|b| b.value.status.to_string()).unwrap_or_default()
        ));
        let trail = r.runner().store().audit_trail(s.entity_ref()).await?;
        let steps: Vec<_> = trail.iter().map(|a| a.action.as_str()).collect();
        say(&format!("§6 audit trail of the submission: {}", steps.join(" → ")));

        let resident = r.actor(user, None).await?;
        for n in self.notifications.mine(&resident, false).await? {
            say(&format!("notification for {name}: [{}] {}", n.kind, n.title));
        }
        Ok(resident)
    }

    /// How many hold `role` in the store.
    pub async fn holders(&self, role: Role) -> Result<usize, Error> {
        Ok(self.residents.runner().store().role_holders(role).await?.len())
    }
}

fn steps(name: &str, reservation: hearth_core::id::ReservationId, diet: &str) -> Vec<StepInput> {
    let slug = name.to_lowercase().replace(' ', "-");
    vec![
        StepInput {
            full_name: Some(name.into()),
            id_document_path: Some(format!("kyc-private/{slug}/aadhaar.jpg")),
            ..StepInput::default()
        },
        StepInput {
            guardian_name: Some("R. Sharma".into()),
            guardian_phone: Some("098450 12345".into()),
            guardian_relation: Some("parent".into()),
            guardian_document_path: Some(format!("kyc-private/{slug}/guardian.pdf")),
            ..StepInput::default()
        },
        StepInput { reservation_id: Some(reservation), ..StepInput::default() },
        StepInput { diet: Some(diet.into()), notes: Some(String::new()), ..StepInput::default() },
    ]
}

/// The `main` of a Viramah example: opens the SQLite file named by the first argument (or a new one
/// in the temp directory, `hearth-<name>-<pid>.db`), runs `run` on it, and reports how it went.
pub async fn run_on_sqlite<F, Fut>(name: &str, run: F) -> std::process::ExitCode
where
    F: FnOnce(hearth_sqlite::SqliteStore) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let path = match std::env::args().nth(1) {
        Some(p) => std::path::PathBuf::from(p),
        None => std::env::temp_dir().join(format!("hearth-{name}-{}.db", std::process::id())),
    };
    let result: Result<(), Box<dyn std::error::Error>> = match hearth_sqlite::SqliteStore::open(&path).await {
        Ok(store) => run(store).await.map_err(Into::into),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => {
            println!("\ndone ({}).", path.display());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{name} example failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
