//! The job runtime on a real SQLite file (one per test).

mod common;

use common::cases;

macro_rules! on_sqlite {
    ($($name:ident),+ $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let (store, _dir) = common::sqlite().await;
            cases::$name(store).await;
        }
    )+};
}

on_sqlite!(
    a_pool_of_8_workers_runs_2000_jobs_exactly_once,
    a_killed_workers_job_is_rescued_and_completes_once,
    a_job_failing_3_times_is_dead_with_its_error,
    two_schedulers_enqueue_each_occurrence_once,
    shutdown_finishes_or_releases_claimed_jobs,
    a_cancelled_running_job_is_abandoned_by_its_worker,
    periodic_jobs_run_the_existing_commands,
);
