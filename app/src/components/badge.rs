//! The connection badge: says in one word whether what the page shows is live (test id `connection-state`, a stable hook that page scripts and probes rely on).

use crate::hooks::ReadyState;
use leptos::prelude::*;

/// The badge text: `live`, `connecting`, `offline`, or `reconnecting in N s` while a retry is scheduled.
pub fn badge_text(state: ReadyState, now_ms: f64) -> String {
    match state {
        ReadyState::Reconnecting { retry_at_ms, .. } if retry_at_ms > now_ms => {
            let secs = ((retry_at_ms - now_ms) / 1000.0).ceil() as u64;
            format!("reconnecting in {secs} s")
        }
        other => other.label().to_owned(),
    }
}

#[component]
pub fn ConnectionBadge(state: Signal<ReadyState>) -> impl IntoView {
    // A clock for the countdown; it only ticks in the browser.
    let now = RwSignal::new(0.0_f64);
    #[cfg(feature = "hydrate")]
    {
        now.set(js_sys::Date::now());
        if let Ok(handle) = set_interval_with_handle(
            move || now.set(js_sys::Date::now()),
            std::time::Duration::from_millis(250),
        ) {
            on_cleanup(move || handle.clear());
        }
    }
    let class = move || format!("badge badge-{}", state.get().label());
    view! {
        <span data-testid="connection-state" class=class role="status" aria-live="polite">
            {move || badge_text(state.get(), now.get())}
        </span>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdown_rounds_up_and_falls_back_to_the_word() {
        let state = ReadyState::Reconnecting {
            attempt: 2,
            retry_at_ms: 10_500.0,
        };
        assert_eq!(badge_text(state, 8_000.0), "reconnecting in 3 s");
        assert_eq!(badge_text(state, 11_000.0), "reconnecting");
        assert_eq!(badge_text(ReadyState::Open, 0.0), "live");
    }
}
