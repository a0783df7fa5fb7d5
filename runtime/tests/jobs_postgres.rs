//! The job runtime on a real Postgres (a new schema per test). The server comes from
//! `DATABASE_URL`, else `postgres://postgres@127.0.0.1:5432/postgres`; without one these tests FAIL.

mod common;

use common::cases;

/// Enough connections for 8 workers, their heartbeats and the rescuer to race for real.
const CONNECTIONS: u32 = 12;

macro_rules! on_postgres {
    ($($name:ident),+ $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            cases::$name(common::postgres(CONNECTIONS).await).await;
        }
    )+};
}

on_postgres!(
    a_pool_of_8_workers_runs_2000_jobs_exactly_once,
    a_killed_workers_job_is_rescued_and_completes_once,
    a_job_failing_3_times_is_dead_with_its_error,
    two_schedulers_enqueue_each_occurrence_once,
    shutdown_finishes_or_releases_claimed_jobs,
    a_cancelled_running_job_is_abandoned_by_its_worker,
    periodic_jobs_run_the_existing_commands,
);
