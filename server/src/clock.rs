//! Wall-clock helpers shared by the hub and the routes: the timestamp format Hearth sends, and the clock seed
//! sequence ids start from.

/// The current time as RFC 3339 with milliseconds, UTC: the format of every timestamp Hearth sends.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Microseconds since the epoch (at least 1): where sequence ids start when nothing higher is known. Ids then
/// keep increasing across restarts even if the data is lost, so an id from before is recognised as old (and
/// answered with a `reset`) instead of being mistaken for a new event's id. A store's highest id is always
/// honoured on top of it, so a clock that steps back cannot make ids repeat.
pub fn clock_seed() -> u64 {
    let micros = chrono::Utc::now().timestamp_micros();
    u64::try_from(micros).unwrap_or(1).max(1)
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_with_milliseconds_in_utc() {
        let now = now_rfc3339();
        assert!(chrono::DateTime::parse_from_rfc3339(&now).is_ok(), "{now}");
        assert!(now.ends_with('Z') && now.len() == "2026-11-22T00:00:00.000Z".len());
    }

    #[test]
    fn the_seed_follows_the_clock() {
        let before = u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap();
        assert!(clock_seed() >= before);
    }
}
