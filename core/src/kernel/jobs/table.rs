//! The memory store's job table: the same rules the SQL stores keep with their `jobs` table, its
//! partial unique index `jobs_unique_key` and their lease-checked updates.

use super::{Claim, Job, JobFilter, JobState, Lease, NewJob, Settle};
use crate::id::JobId;
use crate::kernel::store::{StoreError, StoreResult};
use crate::time::Timestamp;
use std::collections::{BTreeSet, HashMap};

/// Claim order: higher priority first, then earlier `run_at`, then id.
type ClaimKey = (i32, Timestamp, JobId);

fn claim_key(job: &Job) -> ClaimKey {
    (-i32::from(job.priority), job.run_at, job.id)
}

/// Every job, the available ones in claim order, and the unique keys of pending jobs.
#[derive(Debug, Default)]
pub(crate) struct JobTable {
    jobs: HashMap<JobId, Job>,
    available: BTreeSet<ClaimKey>,
    unique: HashMap<String, JobId>,
}

impl JobTable {
    /// Inserts the jobs a commit carries; a taken id, or a unique key a pending job holds, skips the
    /// job (`ON CONFLICT DO NOTHING`).
    pub(crate) fn insert(&mut self, jobs: Vec<NewJob>) {
        for new in jobs {
            if self.jobs.contains_key(&new.id) {
                continue;
            }
            if new.unique_key.as_ref().is_some_and(|k| self.unique.contains_key(k)) {
                continue;
            }
            let job = Job::inserted(new);
            self.index(&job);
            self.jobs.insert(job.id, job);
        }
    }

    fn index(&mut self, job: &Job) {
        if job.state == JobState::Available {
            self.available.insert(claim_key(job));
        }
        if let (true, Some(k)) = (job.state.is_pending(), &job.unique_key) {
            self.unique.insert(k.clone(), job.id);
        }
    }

    fn unindex(&mut self, job: &Job) {
        self.available.remove(&claim_key(job));
        if let Some(k) = &job.unique_key {
            if self.unique.get(k) == Some(&job.id) {
                self.unique.remove(k);
            }
        }
    }

    /// Replaces a job, keeping the indexes right.
    fn replace(&mut self, before: &Job, after: Job) {
        self.unindex(before);
        self.index(&after);
        self.jobs.insert(after.id, after);
    }

    pub(crate) fn claim(&mut self, claim: &Claim) -> Vec<Job> {
        let limit = usize::try_from(claim.limit).unwrap_or(usize::MAX);
        let picked: Vec<JobId> = self
            .available
            .iter()
            .filter(|(_, run_at, _)| *run_at <= claim.now)
            .filter_map(|(_, _, id)| self.jobs.get(id))
            .filter(|j| claim.kinds.contains(&j.kind))
            .map(|j| j.id)
            .take(limit)
            .collect();
        let mut out = Vec::with_capacity(picked.len());
        for id in picked {
            let Some(before) = self.jobs.get(&id).cloned() else { continue };
            let mut after = before.clone();
            after.state = JobState::Running;
            after.attempt = after.attempt.saturating_add(1);
            after.locked_by = Some(claim.worker.clone());
            after.lease_until = Some(claim.lease_until);
            after.attempted_at = Some(claim.now);
            self.replace(&before, after.clone());
            out.push(after);
        }
        out
    }

    /// The running job `lease` holds, if it still holds it.
    fn held(&self, lease: &Lease) -> StoreResult<&Job> {
        match self.jobs.get(&lease.job) {
            Some(j)
                if j.state == JobState::Running
                    && j.locked_by.as_deref() == Some(lease.worker.as_str())
                    && j.attempt == lease.attempt =>
            {
                Ok(j)
            }
            _ => Err(StoreError::LeaseLost { job: lease.job }),
        }
    }

    pub(crate) fn heartbeat(&mut self, lease: &Lease, lease_until: Timestamp) -> StoreResult<()> {
        let before = self.held(lease)?.clone();
        let mut after = before.clone();
        after.lease_until = Some(lease_until);
        self.replace(&before, after);
        Ok(())
    }

    pub(crate) fn settle(&mut self, lease: &Lease, outcome: &Settle, now: Timestamp, expired: bool) -> StoreResult<()> {
        let before = self.held(lease)?.clone();
        if expired && before.lease_until.is_none_or(|until| until > now) {
            return Err(StoreError::LeaseLost { job: lease.job });
        }
        let mut after = before.clone();
        after.locked_by = None;
        after.lease_until = None;
        match outcome {
            Settle::Complete => {
                after.state = JobState::Completed;
                after.finished_at = Some(now);
            }
            Settle::Retry { at, error } => {
                after.state = JobState::Available;
                after.run_at = *at;
                after.last_error = Some(error.clone());
            }
            Settle::Dead { error } => {
                after.state = JobState::Dead;
                after.finished_at = Some(now);
                after.last_error = Some(error.clone());
            }
            Settle::Release => {
                after.state = JobState::Available;
                after.attempt = after.attempt.saturating_sub(1);
                after.run_at = now;
            }
        }
        self.replace(&before, after);
        Ok(())
    }

    pub(crate) fn expired(&self, now: Timestamp, limit: u32) -> Vec<Job> {
        let mut out: Vec<Job> = self
            .jobs
            .values()
            .filter(|j| j.state == JobState::Running && j.lease_until.is_some_and(|u| u <= now))
            .cloned()
            .collect();
        out.sort_by_key(|j| (j.lease_until, j.id));
        out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        out
    }

    pub(crate) fn cancel(&mut self, id: JobId, now: Timestamp) -> Option<Job> {
        let before = self.jobs.get(&id)?.clone();
        if !before.state.is_pending() {
            return Some(before);
        }
        let mut after = before.clone();
        after.state = JobState::Cancelled;
        after.finished_at = Some(now);
        after.locked_by = None;
        after.lease_until = None;
        self.replace(&before, after.clone());
        Some(after)
    }

    pub(crate) fn get(&self, id: JobId) -> Option<Job> {
        self.jobs.get(&id).cloned()
    }

    pub(crate) fn find(&self, filter: &JobFilter, limit: u32) -> Vec<Job> {
        let mut out: Vec<Job> = self.jobs.values().filter(|j| filter.admits(j)).cloned().collect();
        out.sort_by_key(|j| (j.created_at, j.id));
        out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        out
    }

    pub(crate) fn count(&self, filter: &JobFilter) -> u64 {
        self.jobs.values().filter(|j| filter.admits(j)).count() as u64
    }

    pub(crate) fn prune(&mut self, before: Timestamp, limit: u32) -> u64 {
        let mut doomed: Vec<(Timestamp, JobId)> = self
            .jobs
            .values()
            .filter(|j| matches!(j.state, JobState::Completed | JobState::Cancelled))
            .filter_map(|j| j.finished_at.filter(|f| *f < before).map(|f| (f, j.id)))
            .collect();
        doomed.sort();
        doomed.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        for (_, id) in &doomed {
            if let Some(job) = self.jobs.remove(id) {
                self.unindex(&job);
            }
        }
        doomed.len() as u64
    }
}
