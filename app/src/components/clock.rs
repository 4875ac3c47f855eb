//! Time on the page: one ticking clock for every relative time ("12 s ago"), and the pure functions that read
//! Hearth's RFC 3339 timestamps and write clock times.
//!
//! The parsing (in the contract, which folds timestamps too) and formatting are done here, not by the browser's `Date`, so the server renders the same words
//! the browser will (the server has no `Date`), and so they are unit-tested. The page shows local time: the
//! server renders UTC (it cannot know the reader's zone) and the browser switches to the reader's offset once
//! hydrated.

use crate::contract::civil_from_days;
pub use crate::contract::parse_rfc3339_ms;
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
}
