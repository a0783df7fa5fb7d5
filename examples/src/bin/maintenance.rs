//! The maintenance story (Viramah §10) end to end on an embedded SQLite file:
//!
//! ```text
//! cargo run -p hearth-examples --bin maintenance               # SQLite file in a temp dir
//! cargo run -p hearth-examples --bin maintenance -- ./my.db    # SQLite file you name
//! ```
//!
//! Ada, admitted through Viramah's onboarding and approval (the `residents` example), raises
//! `MR-0001` with a photo, staff race to claim it (one wins), the resident sees
//! the request without any staff identity, a signed photo link verifies and expires, a forgotten
//! high-priority request escalates by the SLA sweep, and the admin reads the reports.

use hearth_core::actor::{Actor, Role};
use hearth_core::id::{TenantId, UserId};
use hearth_core::maintenance::{signed, AttachmentInput, Maintenance, MaintenanceStore, SubmitRequest, Transition};
use hearth_core::notifications::NotificationStore;
use hearth_core::system::{RandomIds, SystemClock};
use hearth_core::time::{Clock, ManualClock};
use hearth_core::Error;
use hearth_examples::viramah::{quiet, Desk};
use hearth_sqlite::SqliteStore;
use std::process::ExitCode;
use std::sync::Arc;

/// The storage proxy's shared secret (a real deployment reads it from its secret store).
const PROXY_KEY: &[u8] = b"example-storage-proxy-key-32-bytes!!";

async fn run(store: SqliteStore) -> Result<(), Error> {
    // The story moves time forward, so it runs on a manual clock started at the system's now.
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let svc = Maintenance::new(store.clone(), clock.clone(), Arc::new(RandomIds));
    let hostel = TenantId::generate(&RandomIds);
    // The front desk: a super admin appoints the admin and the maintenance staff, and Ada is admitted
    // through the residence lifecycle (inquiry, onboarding, a revision, approval: the `residents`
    // example tells it step by step). Every actor is built from the roles the store holds.
    let desk = Desk::open(store, clock.clone(), Arc::new(RandomIds), &quiet).await?;
    let admin = desk.admin.clone().in_tenant(hostel);
    let ada = desk.admit("Ada Lovelace", "+91 98111 22334", &quiet).await?.in_tenant(hostel);
    println!("ada was admitted through onboarding: {ada:?}");
    // A token claiming `resident` for someone who never passed the KYC gate.
    let pending = Actor::user(UserId::generate(&RandomIds), [Role::Resident]).in_tenant(hostel);
    let mut staff = Vec::new();
    for _ in 0..4 {
        staff.push(desk.hire(Role::MaintenanceStaff, Some(hostel)).await?);
    }

    let categories = svc.install_default_categories(&admin).await?;
    println!("categories: {}", categories.iter().map(|c| c.code.as_str()).collect::<Vec<_>>().join(", "));

    let leak = svc
        .submit(
            &ada,
            SubmitRequest {
                category: Some("plumber".into()),
                issue_type: Some("tap".into()),
                description: Some("The bathroom tap drips all night.".into()),
                priority: Some("normal".into()),
                attachments: vec![AttachmentInput {
                    path: Some(format!("maintenance-attachments/{hostel}/tap.jpg")),
                    content_type: Some("image/jpeg".into()),
                    size_bytes: Some(1_250_000),
                }],
            },
        )
        .await?;
    println!("ada raised {} ({}, {})", leak.reference, leak.category, leak.status);
    let gate = svc
        .submit(
            &pending,
            SubmitRequest {
                category: Some("wifi".into()),
                issue_type: Some("router".into()),
                ..SubmitRequest::default()
            },
        )
        .await;
    println!("a resident without KYC clearance is refused: {:?}", gate.map_err(|e| e.code));

    // Four staff claim at once: one wins, the others are told `conflict`.
    let claims: Vec<_> = staff
        .iter()
        .map(|s| {
            let (svc, s) = (svc.clone(), s.clone());
            tokio::spawn(async move { svc.claim(&s, leak.id).await.map(|_| s) })
        })
        .collect();
    let mut winner = None;
    for c in claims {
        match c.await.map_err(|e| Error::internal(format!("join: {e}")))? {
            Ok(s) => winner = Some(s),
            Err(e) => println!("  a claim lost: {}", e.code),
        }
    }
    let winner = winner.ok_or_else(|| Error::internal("nobody won the claim"))?;
    svc.change(&winner, leak.id, Transition::Start, None, None).await?;
    svc.comment(&winner, leak.id, "Washer replaced; please check tonight.", false).await?;
    svc.comment(&winner, leak.id, "Tap is old; replace next quarter.", true).await?;
    svc.change(&winner, leak.id, Transition::Resolve, None, Some("washer replaced")).await?;

    let view = svc.resident_view(&ada, leak.id).await?;
    let json = serde_json::to_string(&view).map_err(|e| Error::internal(e.to_string()))?;
    println!(
        "ada sees {} {} with {} comment(s); staff id in her view: {}",
        view.reference,
        view.status,
        view.comments.len(),
        winner.user_id().is_some_and(|w| json.contains(&w.to_string()))
    );

    let photo = svc.runner().store().attachments(leak.id).await?.remove(0);
    let link = svc.attachment_url(&ada, photo.id, PROXY_KEY).await?;
    println!("ada's photo link: {} (expires {})", link.url, link.expires_at);
    println!("  verifies now: {}", signed::verify(PROXY_KEY, &link.url, clock.now()).is_ok());
    clock.advance(chrono::Duration::minutes(15));
    let refused = signed::verify(PROXY_KEY, &link.url, clock.now()).map_err(|r| r.code());
    println!("  15 minutes later: {refused:?}");

    let urgent = svc
        .submit(
            &ada,
            SubmitRequest {
                category: Some("electricity".into()),
                issue_type: Some("breaker_tripping".into()),
                priority: Some("high".into()),
                ..SubmitRequest::default()
            },
        )
        .await?;
    clock.advance(chrono::Duration::hours(6));
    let escalated = svc.escalate_overdue(&Actor::System).await?;
    println!(
        "sweep after 6 h escalated {} request(s); again: {}",
        escalated.len(),
        svc.escalate_overdue(&Actor::System).await?.len()
    );
    let history = svc.staff_view(&admin, urgent.id).await?.history;
    for h in &history {
        println!(
            "  {} {:?} → {} by {}",
            urgent.reference,
            h.from_status.map(|s| s.as_str()),
            h.to_status,
            h.changed_by
        );
    }

    let inbox =
        svc.runner().store().notifications_about(hearth_core::kernel::entity::Entity::entity_ref(&urgent)).await?;
    for n in inbox {
        println!("  notified {:?}: {}", n.recipient, n.title);
    }
    let report = svc.report(&admin, hostel).await?;
    println!("open by category: {:?}", report.open_by_category);
    for r in &report.resolution_by_category {
        println!("average resolution, {}: {} s over {}", r.key, r.average_seconds, r.resolved);
    }
    for w in &report.breaches_by_week {
        println!("week of {}: {}/{} breached", w.week_start, w.breached, w.requests);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    hearth_examples::viramah::run_on_sqlite("maintenance", run).await
}
