//! Time on the page: one ticking clock for every relative time ("12 s ago"), and the pure functions that read
//! Hearth's RFC 3339 timestamps and write clock times.
//!
//! The parsing and formatting are done here, not by the browser's `Date`, so the server renders the same words
//! the browser will (the server has no `Date`), and so they are unit-tested. The page shows local time: the
//! server renders UTC (it cannot know the reader's zone) and the browser switches to the reader's offset once
//! hydrated.

use leptos::prelude::*;

/// The page's clock: now (ms since the epoch) and the reader's offset from UTC in minutes (east positive).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub now_ms: RwSignal<f64>,
    pub offset_min: RwSignal<i32>,
}

/// The current time in milliseconds since the epoch, on either side.
pub fn now_ms() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as f64)
            .unwrap_or(0.0)
    }
}

/// Creates the page's clock and provides it; in the browser it ticks every second and learns the local offset.
pub fn provide_clock() -> Clock {
    let clock = Clock {
        now_ms: RwSignal::new(now_ms()),
        offset_min: RwSignal::new(0),
    };
    #[cfg(feature = "hydrate")]
    {
        // After hydration, so the first browser render matches the server's UTC one.
        Effect::new(move |_| {
            let offset = -(js_sys::Date::new_0().get_timezone_offset() as i32);
            clock.offset_min.set(offset);
        });
        if let Ok(handle) = set_interval_with_handle(
            move || clock.now_ms.set(now_ms()),
            std::time::Duration::from_secs(1),
        ) {
            on_cleanup(move || handle.clear());
        }
    }
    provide_context(clock);
    clock
}

/// The page's clock, or a still one (tests, or a component rendered outside the app).
pub fn use_clock() -> Clock {
    use_context::<Clock>().unwrap_or_else(|| Clock {
        now_ms: RwSignal::new(now_ms()),
        offset_min: RwSignal::new(0),
    })
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Milliseconds since the epoch of an RFC 3339 timestamp such as `2026-11-21T10:04:05.123Z` or
/// `2026-11-21T11:04:05+01:00`; `None` for anything else.
pub fn parse_rfc3339_ms(text: &str) -> Option<f64> {
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = text.get(from..from + len)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, s) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac_ms = 0.0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let digits = text.get(start..i)?;
        if digits.is_empty() {
            return None;
        }
        // Integer digits scaled, rather than `"0.ddd".parse::<f64>()`: the same milliseconds to well under a
        // microsecond, without core's float parser in the WASM bundle. Digits past the 18th cannot matter.
        let kept = digits.get(..digits.len().min(18))?;
        let n: u64 = kept.parse().ok()?;
        frac_ms = n as f64 * 1000.0 / 10_u64.pow(kept.len() as u32) as f64;
    }
    let offset_min = match text.get(i..)? {
        "Z" | "z" => 0,
        rest if rest.len() == 6 && matches!(rest.as_bytes()[0], b'+' | b'-') => {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (num(i + 1, 2)? * 60 + num(i + 4, 2)?)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset_min * 60;
    Some(secs as f64 * 1000.0 + frac_ms)
}

/// (hours, minutes, seconds) and the civil date of `ms` at `offset_min`.
fn local_parts(ms: f64, offset_min: i32) -> ((i64, i64, i64), (i64, i64, i64)) {
    let secs = (ms / 1000.0).floor() as i64 + i64::from(offset_min) * 60;
    let days = secs.div_euclid(86_400);
    let in_day = secs.rem_euclid(86_400);
    (
        (in_day / 3600, in_day % 3600 / 60, in_day % 60),
        civil_from_days(days),
    )
}

/// `HH:MM` local time.
pub fn clock_hm(ms: f64, offset_min: i32) -> String {
    let ((h, m, _), _) = local_parts(ms, offset_min);
    format!("{h:02}:{m:02}")
}

/// `HH:MM:SS` local time.
pub fn clock_hms(ms: f64, offset_min: i32) -> String {
    let ((h, m, s), _) = local_parts(ms, offset_min);
    format!("{h:02}:{m:02}:{s:02}")
}

/// `HH:MM:SS.mmm` local time: for the inspector, where two events can share a second.
pub fn clock_hms_millis(ms: f64, offset_min: i32) -> String {
    // On the whole milliseconds, in integers: the same digits, and a float remainder costs the bundle a wide
    // integer division routine.
    let millis = (ms.floor() as i64).rem_euclid(1000);
    format!("{}.{millis:03}", clock_hms(ms, offset_min))
}

/// `21 Nov 2026, 10:04:05` (and `UTC` when that is what it is): the exact time behind a relative one.
pub fn exact_time(ms: f64, offset_min: i32) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let ((h, m, s), (y, mo, d)) = local_parts(ms, offset_min);
    let month = MONTHS[(mo.clamp(1, 12) - 1) as usize];
    let zone = if offset_min == 0 { " UTC" } else { "" };
    format!("{d} {month} {y}, {h:02}:{m:02}:{s:02}{zone}")
}

/// How long ago `then_ms` was at `now_ms`, in the words a person would use: `just now`, `12 s ago`,
/// `4 min ago`, `3 h ago`, `2 d ago`. A time slightly in the future (clocks disagree) is `just now`.
pub fn relative(now_ms: f64, then_ms: f64) -> String {
    let secs = ((now_ms - then_ms) / 1000.0).floor();
    if secs < 1.0 {
        return "just now".to_owned();
    }
    let secs = secs as u64;
    match secs {
        0..=59 => format!("{secs} s ago"),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

/// A relative time that ticks, with the exact time shown on hover and on keyboard focus.
#[component]
pub fn RelativeTime(
    /// The RFC 3339 timestamp.
    #[prop(into)]
    at: Signal<String>,
    #[prop(optional, into)] testid: Option<String>,
    /// Shown when there is no usable timestamp.
    #[prop(default = "never")]
    missing: &'static str,
) -> impl IntoView {
    let clock = use_clock();
    let parsed = move || at.with(|a| parse_rfc3339_ms(a));
    let text = move || {
        parsed()
            .map(|t| relative(clock.now_ms.get(), t))
            .unwrap_or_else(|| missing.to_owned())
    };
    let exact = move || {
        parsed()
            .map(|t| exact_time(t, clock.offset_min.get()))
            .unwrap_or_default()
    };
    view! {
        <time class="rel" datetime=move || at.get() data-testid=testid data-exact=exact tabindex="0">
            {text}
        </time>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_with_and_without_fractions_and_offsets() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:01.250Z"), Some(1250.0));
        let utc = parse_rfc3339_ms("2026-11-21T10:04:05.123Z").unwrap();
        assert_eq!(utc, 1_795_255_445_123.0);
        assert_eq!(parse_rfc3339_ms("2026-11-21T11:04:05.123+01:00"), Some(utc));
        // Any number of fraction digits: fewer than three, and more than a float or a u64 holds.
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:01.5Z"), Some(1500.0));
        let fine = parse_rfc3339_ms("1970-01-01T00:00:01.123456789Z").unwrap();
        assert!((fine - 1123.456789).abs() < 1e-9, "{fine}");
        let long = parse_rfc3339_ms("2026-11-21T10:04:05.1239999999999999999999999999Z").unwrap();
        assert!((long - (utc + 0.9999)).abs() < 1e-3, "{long}");
        for bad in [
            "",
            "yesterday",
            "2026-11-21",
            "2026-13-01T00:00:00Z",
            "2026-11-21T10:04:05",
            "2026-11-21T10:04:05.Z",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn clock_times_follow_the_offset_and_cross_midnight() {
        let t = parse_rfc3339_ms("2026-11-21T23:30:09Z").unwrap();
        assert_eq!(clock_hm(t, 0), "23:30");
        assert_eq!(clock_hms(t, 60), "00:30:09");
        assert_eq!(exact_time(t, 60), "22 Nov 2026, 00:30:09");
        assert_eq!(exact_time(t, 0), "21 Nov 2026, 23:30:09 UTC");
        assert_eq!(clock_hms_millis(t + 7.0, 0), "23:30:09.007");
        assert_eq!(clock_hms_millis(t + 999.9, 0), "23:30:09.999");
        assert_eq!(clock_hms_millis(-1.5, 0), "23:59:59.998");
    }

    #[test]
    fn relative_times_read_like_speech() {
        let now = 1_000_000_000.0;
        assert_eq!(relative(now, now + 900.0), "just now");
        assert_eq!(relative(now, now - 400.0), "just now");
        assert_eq!(relative(now, now - 4_000.0), "4 s ago");
        assert_eq!(relative(now, now - 125_000.0), "2 min ago");
        assert_eq!(relative(now, now - 3.0 * 3_600_000.0), "3 h ago");
        assert_eq!(relative(now, now - 49.0 * 3_600_000.0), "2 d ago");
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in [-1, 0, 59, 365, 11_016, 20_413, 100_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
