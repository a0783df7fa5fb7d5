//! Core's pure decisions, without a store (issue 11, "core decision … median < 2 µs").
//!
//! Every scene a command decides on is loaded once from a memory store before timing starts; each
//! iteration then runs only what the runner runs between the load and the commit: `validate`
//! (where measured), `decide` (authorize, fire the transition table, build the change set with
//! its audit records and outbox events) on a clone of the loaded scene. The clone is made in
//! criterion's untimed setup; the output and change set are dropped untimed too.
//!
//! `cargo bench -p hearth-core --bench decisions` (figures in BENCHMARKS.md, "Core decisions");
//! `cargo bench -p hearth-core --bench decisions -- --test` runs each once (a smoke).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion, Throughput};
use hearth_core::actor::Actor;
use hearth_core::amenities::BookSlot;
use hearth_core::canteen::PlaceOrder;
use hearth_core::homeheroes::commands::{CreateServiceRequest, RequestCommand, RequestOp};
use hearth_core::homeheroes::input::InterestInput;
use hearth_core::homeheroes::workflow::{self, Action, RequestContext, Resource};
use hearth_core::homeheroes::RequestAction;
use hearth_core::kernel::command::{Command, Decide};
use hearth_core::kernel::memory::MemoryStore;
use hearth_core::kernel::store::Store;
use hearth_core::ledger::engine::{self, TransferInput};
use hearth_core::ledger::model::{AccountId, TransferCode};
use hearth_core::ledger::CreateTransfers;
use hearth_core::system::RandomIds;
use hearth_core::testing::amenities::Gym;
use hearth_core::testing::canteen::Kitchen;
use hearth_core::testing::fixtures::{request_input, World};
use hearth_core::testing::ledger::{transfer, Books};
use hearth_core::testing::verified_transfers;
use hearth_core::time::{Clock, Timestamp};
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;
use tokio::runtime::Runtime;

/// Wallets in the ledger scene; a batch's transfers pick pairs among them.
const WALLETS: usize = 200;
/// Transfers in a batch.
const BATCH: usize = 100;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// What `cmd` loads for `actor`, through one snapshot of `store` (the runner's first attempt).
fn load<C: Command>(rt: &Runtime, store: &MemoryStore, actor: &Actor, cmd: &C, valid: &C::Valid) -> C::Loaded {
    rt.block_on(async {
        let view = store.snapshot(cmd.reads(valid, 0)).await.expect("snapshot");
        cmd.load_attempt(view.as_ref(), actor, valid, 0).await.expect("load")
    })
}

/// One decision as the runner makes it, on a copy of `loaded`; panics if it is refused (a bench
/// that measured a refusal would measure the wrong path).
fn decide<C: Command>(
    now: Timestamp,
    actor: &Actor,
    cmd: &C,
    valid: &C::Valid,
    loaded: C::Loaded,
) -> (C::Output, hearth_core::store::ChangeSet) {
    let mut cx = Decide::new(now, &RandomIds, actor);
    match cmd.decide(actor, valid, loaded, &mut cx) {
        Ok(out) => (out, cx.into_changes()),
        Err(e) => panic!("{} refused: {e:?}", C::NAME),
    }
}

/// `name/decide` (decide on the loaded scene) and `name/validate+decide` (the input validated
/// first, as the runner does once per command).
fn bench_command<C: Command>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    now: Timestamp,
    actor: &Actor,
    cmd: &C,
    loaded: &C::Loaded,
) where
    C::Loaded: Clone,
{
    let valid = cmd.validate(now).expect("valid");
    g.bench_function(format!("{name}/decide"), |b| {
        b.iter_batched(|| loaded.clone(), |l| decide(now, actor, black_box(cmd), &valid, l), BatchSize::SmallInput)
    });
    g.bench_function(format!("{name}/validate+decide"), |b| {
        b.iter_batched(
            || loaded.clone(),
            |l| {
                let valid = black_box(cmd).validate(now).expect("valid");
                decide(now, actor, cmd, &valid, l)
            },
            BatchSize::SmallInput,
        )
    });
}

fn homeheroes(c: &mut Criterion) {
    let rt = runtime();
    let w = rt.block_on(async { World::new(MemoryStore::new()) });
    let (civilian, poster, hero, others, pending, crowded, assigned, active) = rt.block_on(async {
        let civilian = w.civilian().await;
        let poster = w.civilian().await;
        let hero = w.hero().await;
        let mut others = Vec::new();
        for _ in 0..3 {
            others.push(w.hero().await);
        }
        let pending = w.request(&poster).await;
        let crowded = w.request(&poster).await;
        for o in &others {
            w.hh.express_interest(o, crowded.id, InterestInput::default()).await.expect("interest");
        }
        let assigned = w.request(&poster).await;
        w.hh.accept(&hero, assigned.id).await.expect("accept");
        let active = w.request(&poster).await;
        w.hh.accept(&hero, active.id).await.expect("accept");
        let active = w.hh.start(&hero, active.id).await.expect("start");
        (civilian, poster, hero, others, pending, crowded, assigned, active)
    });
    let _ = (&others, &assigned);
    let store = w.store().clone();
    let now = w.clock.now();
    let mut g = c.benchmark_group("homeheroes");

    // The pieces, each on its own.
    let input = request_input();
    g.bench_function("create/validate", |b| b.iter(|| black_box(&input).validate(now).expect("valid")));
    let civ_id = civilian.user_id().expect("user");
    g.bench_function("create/authorize", |b| {
        b.iter(|| {
            workflow::authorize(black_box(&civilian), Action::Create, Resource::NewServiceRequest { civilian: civ_id })
        })
    });
    g.bench_function("accept/authorize_read", |b| {
        b.iter(|| workflow::authorize(black_box(&hero), Action::Read, Resource::ServiceRequest(black_box(&pending))))
    });
    let ready = RequestContext { hero_ready: true, ..RequestContext::default() };
    g.bench_function("accept/transition", |b| {
        b.iter(|| workflow::fire(black_box(&hero), black_box(&pending), RequestAction::Accept, &ready).expect("fires"))
    });

    // Whole decisions on loaded scenes.
    let create = CreateServiceRequest { id: None, input: request_input() };
    let valid = create.validate(now).expect("valid");
    let scene = load(&rt, &store, &civilian, &create, &valid);
    bench_command(&mut g, "create", now, &civilian, &create, &scene);

    for (name, actor, request, op) in [
        ("accept", &hero, &pending, RequestOp::Accept),
        ("accept_3_interests", &hero, &crowded, RequestOp::Accept),
        ("start", &hero, &assigned, RequestOp::Start),
        ("complete", &hero, &active, RequestOp::Complete),
        ("cancel", &poster, &pending, RequestOp::Cancel { reason: Some("Plans changed".into()) }),
    ] {
        let cmd = RequestCommand { request_id: request.id, op };
        let valid = cmd.validate(now).expect("valid");
        let scene = load(&rt, &store, actor, &cmd, &valid);
        bench_command(&mut g, name, now, actor, &cmd, &scene);
    }
    g.finish();
}

fn amenities_and_canteen(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("other");
    let (gym, resident, slot) = rt.block_on(async {
        let gym = Gym::new(MemoryStore::new(), 10).await;
        let resident = gym.resident();
        let slot = gym.first_slot().await;
        (gym, resident, slot)
    });
    let now = gym.clock.now();
    let book = BookSlot { slot_id: slot.id };
    let scene = load(&rt, gym.svc.runner().store(), &resident, &book, &());
    bench_command(&mut g, "amenity_book", now, &resident, &book, &scene);

    let (kitchen, asha) = rt.block_on(async {
        let k = Kitchen::new(MemoryStore::new()).await;
        let (asha, _) = k.resident(1_000).await;
        (k, asha)
    });
    let order = PlaceOrder { input: kitchen.order(&[(&kitchen.biryani, 2), (&kitchen.chai, 3)], None) };
    let valid = order.validate(now).expect("valid");
    let scene = load(&rt, kitchen.canteen.runner().store(), &asha, &order, &valid);
    bench_command(&mut g, "canteen_order", now, &asha, &order, &scene);
    g.finish();
}

/// A batch of `n` wallet-to-wallet transfers of 0.01 among `wallets` (pairs from a fixed LCG).
fn batch(wallets: &[AccountId], n: usize, linked: bool) -> Vec<TransferInput> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |m: usize| {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((x >> 33) as usize) % m
    };
    (0..n)
        .map(|k| {
            let a = next(wallets.len());
            let b = (a + 1 + next(wallets.len() - 1)) % wallets.len();
            TransferInput { linked: linked && k + 1 < n, ..transfer(wallets[a], wallets[b], 1, TransferCode::TopUp) }
        })
        .collect()
}

/// The same rule as a minimal hand-written loop: balances in a hash map, debits must not exceed
/// credits, a linked chain all or nothing (its changes kept aside until it ends). The floor any
/// engine over the same in-memory accounts pays.
fn raw_loop(balances: &HashMap<AccountId, (i64, i64)>, batch: &[(AccountId, AccountId, i64)]) -> usize {
    let mut delta: HashMap<AccountId, (i64, i64)> = HashMap::with_capacity(batch.len() * 2);
    let mut ok = 0;
    for &(debit, credit, amount) in batch {
        let seen = |id: &AccountId, delta: &HashMap<AccountId, (i64, i64)>| {
            let (d, c) = balances.get(id).copied().unwrap_or_default();
            let (dd, dc) = delta.get(id).copied().unwrap_or_default();
            (d + dd, c + dc)
        };
        let (d, c) = seen(&debit, &delta);
        if d + amount > c {
            return 0;
        }
        delta.entry(debit).or_default().0 += amount;
        delta.entry(credit).or_default().1 += amount;
        let _ = seen(&credit, &delta);
        ok += 1;
    }
    ok
}

fn ledger(c: &mut Criterion) {
    let rt = runtime();
    let (books, wallets) = rt.block_on(async {
        let books = Books::new(MemoryStore::new()).await;
        let mut wallets = Vec::with_capacity(WALLETS);
        for _ in 0..WALLETS {
            let (_, w) = books.wallet().await;
            books.top_up(&w, 1_000_000).await;
            wallets.push(w.id);
        }
        (books, wallets)
    });
    let now = books.clock.now();
    let store = books.store().clone();
    let system = Actor::System;
    let ctx = engine::Context { actor: system.principal(), now, allow_top_up: true, allow_refund: true };
    let mut g = c.benchmark_group("ledger");
    for (name, n, linked) in
        [("single", 1, false), ("batch100_linked", BATCH, true), ("batch100_unlinked", BATCH, false)]
    {
        let cmd = verified_transfers(batch(&wallets, n, linked));
        let loaded = load(&rt, &store, &system, &cmd, &());
        let snap = loaded.0.clone();
        let out = engine::decide(&cmd.transfers, &snap, &ctx);
        assert!(out.outcomes.iter().all(|o| o.result == hearth_core::ledger::model::TransferResult::Ok), "{out:?}");
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("{name}/engine"), |b| {
            b.iter(|| engine::decide(black_box(&cmd.transfers), &snap, &ctx))
        });
        bench_command::<CreateTransfers>(&mut g, name, now, &system, &cmd, &loaded);
        if n == BATCH && linked {
            let balances: HashMap<AccountId, (i64, i64)> =
                snap.accounts.values().map(|a| (a.id, (a.balance.debits_posted, a.balance.credits_posted))).collect();
            let raw: Vec<(AccountId, AccountId, i64)> =
                cmd.transfers.iter().map(|t| (t.debit_account_id, t.credit_account_id, 1)).collect();
            assert_eq!(raw_loop(&balances, &raw), BATCH);
            g.bench_function(format!("{name}/raw_loop"), |b| b.iter(|| raw_loop(&balances, black_box(&raw))));
        }
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3))
}

criterion_group! { name = benches; config = config(); targets = homeheroes, amenities_and_canteen, ledger }
criterion_main!(benches);
