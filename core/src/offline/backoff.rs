//! The retry schedule: capped exponential backoff with "equal jitter", as a pure function.

/// The first retry waits about this long.
pub const BACKOFF_BASE_MS: u64 = 1_000;
/// No retry waits longer than this.
pub const BACKOFF_CAP_MS: u64 = 300_000;

/// How long to wait after `failures` consecutive failed attempts (0 → no wait).
///
/// The ceiling doubles from [`BACKOFF_BASE_MS`] up to [`BACKOFF_CAP_MS`]; the delay is half the
/// ceiling plus a jitter in `0..=ceiling/2` drawn from `jitter` (a [`next_jitter`] value), so
/// clients that failed together do not retry together, and every delay is in `[ceiling/2, ceiling]`.
pub fn backoff_delay_ms(failures: u32, jitter: u64) -> u64 {
    if failures == 0 {
        return 0;
    }
    let doublings = failures.saturating_sub(1).min(32);
    let ceiling = BACKOFF_BASE_MS.saturating_mul(1u64 << doublings).min(BACKOFF_CAP_MS);
    let half = ceiling / 2;
    half + jitter % (ceiling - half + 1)
}

/// The next jitter value after `state` (SplitMix64: deterministic, so a persisted queue and the
/// golden vectors reproduce the same schedule everywhere).
pub fn next_jitter(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn doubles_then_caps() {
        assert_eq!(backoff_delay_ms(0, 7), 0);
        assert_eq!(backoff_delay_ms(1, 0), 500);
        assert_eq!(backoff_delay_ms(1, 500), 1_000);
        assert_eq!(backoff_delay_ms(2, 0), 1_000);
        assert_eq!(backoff_delay_ms(10, 0), 150_000);
        assert_eq!(backoff_delay_ms(u32::MAX, u64::MAX), 150_000 + u64::MAX % 150_001);
    }

    proptest! {
        #[test]
        fn within_half_and_full_ceiling(failures in 1u32..200, jitter: u64) {
            let d = backoff_delay_ms(failures, jitter);
            let ceiling = (BACKOFF_BASE_MS << (failures - 1).min(32)).min(BACKOFF_CAP_MS);
            prop_assert!(d >= ceiling / 2 && d <= ceiling);
            prop_assert!(backoff_delay_ms(failures + 1, jitter) >= ceiling / 2);
        }
    }
}
