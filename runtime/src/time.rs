use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// An RFC 3339 UTC timestamp with millisecond precision, e.g. `2026-11-21T06:07:50.123Z`.
pub type Timestamp = String;

/// The current time as RFC 3339 UTC (what the seed's `datetime.now().isoformat()` records,
/// with the time zone made explicit).
pub fn now_rfc3339() -> Timestamp {
    rfc3339_cached(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

/// Formats a time since the epoch; tasks finish many times per millisecond, so each
/// millisecond is formatted once per thread.
fn rfc3339_cached(since_epoch: Duration) -> Timestamp {
    let millis = since_epoch.as_millis();
    thread_local! {
        static LAST: std::cell::RefCell<(u128, String)> = const { std::cell::RefCell::new((u128::MAX, String::new())) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != millis {
            *last = (
                millis,
                format_rfc3339(since_epoch.as_secs() as i64, since_epoch.subsec_millis()),
            );
        }
        last.1.clone()
    })
}

/// The wall clock read once, so that later instants of the same run get a wall-clock time
/// from the monotonic clock alone (one clock read per task start instead of two). A run
/// lasts far less than the time an NTP slew takes to move the clock by a millisecond.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClockAnchor {
    instant: Instant,
    since_epoch: Duration,
}

impl ClockAnchor {
    pub(crate) fn now() -> Self {
        ClockAnchor {
            instant: Instant::now(),
            since_epoch: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default(),
        }
    }

    /// `at` as RFC 3339 UTC.
    pub(crate) fn rfc3339(&self, at: Instant) -> Timestamp {
        rfc3339_cached(self.since_epoch + at.saturating_duration_since(self.instant))
    }
}

fn format_rfc3339(unix_secs: i64, millis: u32) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs_of_day = unix_secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        secs_of_day / 3600,
        secs_of_day % 3600 / 60,
        secs_of_day % 60
    )
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(
            format_rfc3339(1_795_241_270, 123),
            "2026-11-21T06:07:50.123Z"
        );
        assert_eq!(format_rfc3339(-1, 0), "1969-12-31T23:59:59.000Z");
    }

    #[test]
    fn anchored_instants_follow_the_wall_clock() {
        let anchor = ClockAnchor::now();
        assert_eq!(
            anchor.rfc3339(anchor.instant),
            rfc3339_cached(anchor.since_epoch)
        );
        let later = anchor.rfc3339(anchor.instant + Duration::from_millis(1_500));
        let base = rfc3339_cached(anchor.since_epoch + Duration::from_millis(1_500));
        assert_eq!(later, base);
    }

    #[test]
    fn now_is_well_formed() {
        let now = now_rfc3339();
        assert_eq!(now.len(), 24, "{now}");
        assert!(now.ends_with('Z'));
    }
}
