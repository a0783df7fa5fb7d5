//! The HomeHeroes story, step by step, on any store.

use hearth_core::homeheroes::input::{
    BudgetInput, HeroProfileInput, InterestInput, LocationInput, ProfileInput, ServiceRequestInput,
};
use hearth_core::homeheroes::model::ProfileRole;
use hearth_core::homeheroes::{HomeHeroes, PendingQuery};
use hearth_core::id::UserId;
use hearth_core::store::{Entity, Store};
use hearth_core::system::{RandomIds, SystemClock};
use hearth_core::{Actor, Clock, Error, Role};
use rust_decimal::Decimal;
use std::fmt::Display;
use std::sync::Arc;

/// Prints one step and its outcome.
fn step<T: Display>(n: u32, what: &str, outcome: T) {
    println!("{n:>2}. {what}\n    → {outcome}");
}

fn refused(e: &Error) -> String {
    let mut s = format!("refused: {} ({})", e.code, e.message);
    for f in &e.fields {
        s.push_str(&format!("\n        {} {}", f.field, f.violation.code()));
    }
    s
}

fn request_input(scheduled: &str) -> ServiceRequestInput {
    ServiceRequestInput {
        title: Some("Fix the leaking kitchen sink".into()),
        description: Some("Water drips under the cabinet whenever the tap runs. Parts are on site.".into()),
        category: Some("repairs".into()),
        location: Some(LocationInput {
            address: Some("12 Elm Street".into()),
            city: Some("Springfield".into()),
            state: Some("IL".into()),
            zip_code: Some("62701".into()),
            latitude: Some(39.7817),
            longitude: Some(-89.6501),
        }),
        scheduled_date: Some(scheduled.to_owned()),
        estimated_duration: Some(2),
        budget_range: Some(BudgetInput {
            min: Some(Decimal::new(6000, 2)),
            max: Some(Decimal::new(12000, 2)),
            currency: Some("USD".into()),
        }),
    }
}

/// Runs the whole HomeHeroes story on `store`; errors only on a broken store or a broken rule.
pub async fn run<S: Store + Clone + 'static>(store: S, store_name: &str) -> Result<(), Error> {
    let clock = Arc::new(SystemClock);
    let hh = HomeHeroes::new(store, clock.clone(), Arc::new(RandomIds));
    println!("hearth quickstart — HomeHeroes on {store_name}\n");

    let ada_id = UserId::generate(&RandomIds);
    let ada = Actor::user(ada_id, [Role::Civilian]);
    let sam_id = UserId::generate(&RandomIds);
    let sam = Actor::user(sam_id, [Role::Hero]);
    let lee_id = UserId::generate(&RandomIds);
    let lee = Actor::user(lee_id, [Role::Hero]);

    hh.ensure_profile(&ada, ada_id, ProfileRole::Civilian).await?;
    let again = hh.ensure_profile(&ada, ada_id, ProfileRole::Civilian).await?;
    step(
        1,
        "Ada signs up as a civilian (twice: the signup race is harmless)",
        format!("profile {} ({})", again.profile.id, again.profile.role),
    );
    let p = hh
        .update_profile(
            &ada,
            ada_id,
            ProfileInput { full_name: Some("Ada <b>Lovelace</b>".into()), phone: Some("+1 (217) 555-0100".into()) },
        )
        .await?;
    step(
        2,
        "Ada completes onboarding (markup is stripped, the phone normalised)",
        format!("{:?}, {:?}", p.full_name.unwrap_or_default(), p.phone.unwrap_or_default()),
    );

    for (actor, id, skills, rate) in [(&sam, sam_id, "Plumbing", 4500), (&lee, lee_id, "Carpentry", 3800)] {
        hh.ensure_profile(actor, id, ProfileRole::Hero).await?;
        let input = HeroProfileInput {
            skills: Some(vec![skills.into(), "Repairs".into()]),
            hourly_rate: Some(Decimal::new(rate, 2)),
            ..HeroProfileInput::default()
        };
        hh.update_hero_profile(actor, id, input).await?;
    }
    step(3, "Sam and Lee sign up as heroes and set skills and rates", "two ready heroes");

    let mut bad = request_input("2020-01-01T09:00:00Z");
    bad.title = Some("Fix".into());
    bad.budget_range = Some(BudgetInput {
        min: Some(Decimal::new(200, 0)),
        max: Some(Decimal::new(100, 0)),
        currency: Some("USD".into()),
    });
    match hh.create_service_request(&ada, bad, None).await {
        Ok(r) => return Err(Error::internal(format!("a bad request was accepted: {}", r.id))),
        Err(e) => step(4, "Ada posts a request with a short title, a past date and max < min", refused(&e)),
    }

    let when = clock.now().checked_add(chrono::Duration::days(2)).unwrap_or_else(|| clock.now());
    let scheduled = when.to_string();
    let req = hh.create_service_request(&ada, request_input(&scheduled), None).await?;
    step(
        5,
        "Ada posts a valid request",
        format!("{} `{}` is {}, budget {}–{}", req.id, req.title, req.status, req.budget.min, req.budget.max),
    );

    let pending =
        hh.list_pending(&sam, &PendingQuery { category: Some("repairs".into()), ..PendingQuery::default() }).await?;
    step(6, "Sam browses pending repairs, newest first", format!("{} request(s)", pending.items.len()));

    hh.express_interest(&sam, req.id, InterestInput::default()).await?;
    hh.express_interest(&lee, req.id, InterestInput { source: Some("sms".into()), phone: Some("+12175550199".into()) })
        .await?;
    let actions = hh.available_actions(&ada, req.id).await?;
    step(
        7,
        "Sam (app) and Lee (sms) express interest; what may Ada do now?",
        format!("{:?}", actions.iter().map(|a| a.as_str()).collect::<Vec<_>>()),
    );

    let req = hh.choose_hero(&ada, req.id, sam_id).await?;
    let interests = hh.interests(&ada, req.id).await?;
    let settled: Vec<String> = interests
        .iter()
        .map(|i| format!("{}={}", if i.hero_user_id == sam_id { "Sam" } else { "Lee" }, i.status))
        .collect();
    step(
        8,
        "Ada chooses Sam: one commit assigns the request and settles every interest",
        format!("{} to Sam; {}", req.status, settled.join(", ")),
    );

    match hh.start(&lee, req.id).await {
        Ok(_) => return Err(Error::internal("Lee started a job that is not his")),
        Err(e) => step(9, "Lee tries to start Sam's job", refused(&e)),
    }
    match hh.cancel(&sam, req.id, None).await {
        Ok(_) => return Err(Error::internal("a hero cancelled the civilian's request")),
        Err(e) => step(10, "Sam tries to cancel Ada's request", refused(&e)),
    }

    let req = hh.start(&sam, req.id).await?;
    let req = hh.complete(&sam, req.id).await?;
    let hero = hh.hero_profile(&ada, sam_id).await?;
    step(
        11,
        "Sam starts and completes the job",
        format!("{}; Sam has {} completed job(s)", req.status, hero.completed_jobs),
    );

    let req = hh.rate(&ada, req.id, 5).await?;
    let hero = hh.hero_profile(&Actor::Anonymous, sam_id).await?;
    step(
        12,
        "Ada rates Sam; hero profiles are public",
        format!("rating {:?} → Sam's average {}", req.rating.unwrap_or(0), hero.rating.average()),
    );

    let from = clock.now().checked_sub(chrono::Duration::days(1)).unwrap_or_else(|| clock.now());
    let to = clock.now().checked_add(chrono::Duration::days(1)).unwrap_or_else(|| clock.now());
    let earnings = hh.earnings(&sam, sam_id, from, to).await?;
    let totals: Vec<String> = earnings.totals.iter().map(ToString::to_string).collect();
    step(
        13,
        "Sam's earnings today (midpoint of each budget)",
        format!("{} job(s): {}", earnings.jobs, totals.join(", ")),
    );

    let admin = Actor::user(UserId::generate(&RandomIds), [Role::Admin]);
    let trail = hh.audit_trail(&admin, req.entity_ref()).await?;
    let actions: Vec<String> = trail.iter().map(|a| format!("v{} {}", a.version, a.action)).collect();
    step(14, "An admin reads the request's audit trail", actions.join(" → "));
    Ok(())
}
