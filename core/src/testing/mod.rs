//! The store conformance suite: one set of tests every store must pass unchanged.
//!
//! A store crate writes only how to make a fresh, isolated store and calls the macro:
//!
//! ```text
//! hearth_core::conformance_tests!(crate::fresh_store().await);
//! ```
//!
//! The macro expands to one `#[tokio::test]` per test in [`suite`] and its sibling modules, each on a multi-threaded runtime
//! so the concurrent tests really race.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

pub mod amenities;
pub mod canteen;
pub mod fixtures;
pub mod khedma;
pub mod ledger;
pub mod offline;
pub mod payments;
pub mod rooms;
pub mod suite;
pub mod walks;

/// Expands to the whole conformance suite for a store. `$fresh` is an async expression that yields a
/// fresh, isolated store (`impl HomeHeroesStore + Clone + 'static`).
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:expr) => {
        $crate::conformance_tests!(@suite $fresh;
            ensure_profile_is_idempotent_under_a_signup_race,
            profile_updates_are_validated_and_owner_only,
            created_request_round_trips_exactly,
            invalid_request_is_refused_with_every_field_error_and_nothing_written,
            job_lifecycle_runs_end_to_end,
            cancel_rules_follow_the_table,
            choose_hero_settles_every_interest_in_one_commit,
            concurrent_accepts_exactly_one_hero_wins,
            concurrent_cancel_and_accept_never_leave_a_mixed_state,
            idempotency_key_replays_apply_once,
            listing_is_filtered_paginated_and_authorized,
            authorization_follows_the_rls_policies,
            every_change_is_audited_and_published_in_the_same_commit,
            commit_is_all_or_nothing_and_checks_versions,
            request_creation_is_rate_limited,
            earnings_follow_the_midpoint_rule_per_currency,
            random_action_sequences_respect_the_transition_table
        );
        $crate::conformance_tests!(@ledger $fresh;
            ledger_accounts_open_once_and_balances_are_private,
            ledger_transfers_apply_once_and_failures_keep_failing,
            ledger_two_phase_holds_post_void_and_expire_once,
            ledger_concurrent_debits_never_overdraw,
            ledger_concurrent_post_and_void_exactly_one_wins,
            ledger_reconciliation_freezes_a_tampered_account,
            ledger_random_operations_keep_every_invariant
        );
        $crate::conformance_tests!(@payments $fresh;
            payments_webhook_credits_once_however_often_delivered,
            payments_bad_signatures_and_mismatches_write_nothing_or_only_alerts,
            payments_stripe_style_gateway_credits_too,
            payments_fraud_rules_limit_flag_and_hold,
            payments_refunds_never_exceed_what_was_paid,
            payments_intents_expire_and_a_late_payment_still_credits
        );
        $crate::conformance_tests!(@amenities $fresh;
            amenity_slots_generate_once_even_when_generators_race,
            amenity_64_bookers_on_a_slot_of_capacity_10,
            amenity_booking_rules_hold,
            amenity_book_and_cancel_storm_keeps_the_counter_exact
        );
        $crate::conformance_tests!(@canteen $fresh;
            canteen_order_is_paid_and_placed_in_one_commit,
            canteen_cancellations_refund_by_rule_and_never_twice,
            canteen_concurrent_orders_drain_one_wallet_exactly,
            canteen_limits_orders_per_day
        );
        $crate::conformance_tests!(@rooms $fresh;
            rooms_the_last_bed_goes_to_exactly_one,
            rooms_reservations_are_confirmed_or_released_exactly_once,
            rooms_reserve_and_release_storm_keeps_the_counter_exact
        );
        $crate::conformance_tests!(@khedma $fresh;
            khedma_accepting_a_quote_settles_every_quote_in_one_commit,
            khedma_racing_accepts_make_exactly_one_booking,
            khedma_bookings_follow_their_workflow_and_stay_private
        );
        $crate::conformance_tests!(@walks $fresh;
            random_walks_over_slots_and_orders_keep_every_invariant
        );
        $crate::conformance_tests!(@offline $fresh;
            offline_batches_replayed_five_times_apply_exactly_once,
            offline_copies_of_a_fresh_batch_race_and_apply_once,
            offline_a_crash_mid_batch_loses_nothing_acknowledged,
            offline_dependents_gaps_and_ownership
        );
    };
    (@$module:ident $fresh:expr; $($name:ident),+) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let store = $fresh;
                $crate::testing::$module::$name(store).await;
            }
        )+
    };
}

/// A transfer batch as the verified-payment path submits it (top-ups and refunds allowed). For tests
/// and benchmarks only: production code reaches these paths through `payments` alone.
pub fn verified_transfers(transfers: Vec<crate::ledger::engine::TransferInput>) -> crate::ledger::CreateTransfers {
    crate::ledger::CreateTransfers { transfers, allow_top_up: true, allow_refund: true }
}
