//! Viramah's residence lifecycle (seed 002 §3–§6) end to end on an embedded SQLite file:
//!
//! ```text
//! cargo run -p hearth-examples --bin residents               # SQLite file in a temp dir
//! cargo run -p hearth-examples --bin residents -- ./my.db    # SQLite file you name
//! ```
//!
//! The system grants the first super admin, who appoints an admin and a sales agent (nobody else
//! may: an admin's attempt is refused). Priya inquires (a second inquiry with her phone answers
//! `duplicate` without saying whose), the sales agent reads the inquiries, Priya signs up, reserves
//! a bed, saves her drafts and submits; the admin claims the submission (a second admin racing for it
//! is told `conflict`), asks for a revision, Priya resubmits, and the approval makes her a resident —
//! KYC complete, bed confirmed, welcome notification — in one commit. Her token from before still
//! says `pending_resident`; the store decides.

use hearth_core::id::UserId;
use hearth_core::residents::{ReviewAction, StepInput, SubmitInquiry};
use hearth_core::system::{RandomIds, SystemClock};
use hearth_core::{Actor, Error, Role};
use hearth_examples::viramah::{aloud, Desk};
use hearth_sqlite::SqliteStore;
use std::process::ExitCode;
use std::sync::Arc;

async fn run(store: SqliteStore) -> Result<(), Error> {
    let desk = Desk::open(store, Arc::new(SystemClock), Arc::new(RandomIds), &aloud).await?;
    let r = &desk.residents;

    println!("staff roles (§3 step 4: assigned by SUPER_ADMIN only):");
    let sales = desk.hire(Role::SalesAgent, None).await?;
    println!("  the super admin appointed a sales agent: {sales:?}");
    let refused = r.grant_role(&desk.admin, UserId::generate(&RandomIds), Role::Admin).await;
    println!("  the admin tries to appoint another admin: {:?}", refused.map_err(|e| e.code));
    let me = desk.root.user_id().ok_or_else(|| Error::internal("root is a user"))?;
    let refused = r.revoke_role(&desk.root, me, Role::SuperAdmin).await;
    println!("  the only super admin tries to step down: {:?}", refused.map_err(|e| e.code));

    println!("\nPriya's way in:");
    let priya = desk.admit("Priya Sharma", "+91 98765 43210", &aloud).await?;
    let priya_id = priya.user_id().ok_or_else(|| Error::internal("priya is a user"))?;

    println!("\nafterwards:");
    let again = SubmitInquiry {
        name: Some("P. Sharma".into()),
        email: Some("someone.else@example.com".into()),
        phone: Some("98765 43210".into()),
        ip: Some("198.51.100.4".into()),
        ..SubmitInquiry::default()
    };
    let receipt = r.inquire(&Actor::Anonymous, again).await?;
    println!("  an inquiry with Priya's phone: received {}, duplicate {}", receipt.received, receipt.duplicate);
    let inquiries = r.inquiries(&sales, 10).await?;
    for i in &inquiries {
        println!("  the sales agent reads: {} <{}> {}", i.name, i.email, i.phone);
    }
    let curious = r.inquiries(&priya, 10).await.map(|v| v.len());
    println!("  Priya reading inquiries: {:?}", curious.map_err(|e| e.code));

    let stale = Actor::user(priya_id, [Role::PendingResident]);
    let late = r.save_draft(&stale, 4, StepInput { diet: Some("vegan".into()), ..StepInput::default() }).await;
    println!("  Priya's pre-approval token (claims pending_resident) edits a draft: {:?}", late.map_err(|e| e.code));
    println!("  the roles a host gives her now, from the store: {:?}", r.actor(priya_id, None).await?);

    // Two admins race to claim a new submission: one wins, the other is told `conflict`.
    let second = desk.hire(Role::Admin, None).await?;
    let anil_id = UserId::generate(&RandomIds);
    r.sign_up(&Actor::user(anil_id, [])).await?;
    let anil = r.actor(anil_id, None).await?;
    let tag = anil_id.to_string();
    let room = desk.rooms.add_room(&desk.admin, &format!("C-{}", &tag[tag.len() - 4..]), 1).await?;
    let bed = desk.rooms.reserve(&anil, room.id, false).await?;
    let drafts = [
        StepInput {
            full_name: Some("Anil Kumar".into()),
            id_document_path: Some("kyc-private/anil/pan.jpg".into()),
            ..StepInput::default()
        },
        StepInput {
            guardian_name: Some("Sita Kumar".into()),
            guardian_phone: Some("+91 99000 11223".into()),
            guardian_relation: Some("guardian".into()),
            guardian_document_path: Some("kyc-private/anil/guardian.jpg".into()),
            ..StepInput::default()
        },
        StepInput { reservation_id: Some(bed.id), ..StepInput::default() },
        StepInput { diet: Some("veg".into()), ..StepInput::default() },
    ];
    for (k, d) in drafts.into_iter().enumerate() {
        r.save_draft(&anil, k as i64 + 1, d).await?;
    }
    let sub = r.submit(&anil).await?;
    let (a, b) = tokio::join!(
        r.review(&desk.admin, sub.id, ReviewAction::Claim, None, &[]),
        r.review(&second, sub.id, ReviewAction::Claim, None, &[]),
    );
    println!(
        "  two admins claim Anil's submission at once: {:?} / {:?}",
        a.map(|s| s.status).map_err(|e| e.code),
        b.map(|s| s.status).map_err(|e| e.code)
    );
    println!(
        "  staff in the store: {} super admin(s), {} admin(s), {} sales agent(s)",
        desk.holders(Role::SuperAdmin).await?,
        desk.holders(Role::Admin).await?,
        desk.holders(Role::SalesAgent).await?
    );
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    hearth_examples::viramah::run_on_sqlite("residents", run).await
}
