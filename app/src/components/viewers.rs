//! The live viewer count: browsers with the dashboard open (its tabs share one stream, and the server counts
//! streams). It subscribes to `/events` itself — the same URL as the dashboard — so it shares the
//! dashboard's one connection rather than opening a second (the hook shares by URL).

use super::dashboard::EVENTS_URL;
use crate::contract::{Snapshot, Topic, RESET_EVENT, SNAPSHOT_EVENT};
use crate::hooks::{use_event_source, UseEventSourceOptions};
use leptos::prelude::*;

#[component]
pub fn ViewerCount(initial: u64) -> impl IntoView {
    let count = RwSignal::new(initial);
    use_event_source(
        EVENTS_URL,
        UseEventSourceOptions::default()
            .events([Topic::Viewers.name(), SNAPSHOT_EVENT, RESET_EVENT])
            .on_message(move |m| {
                let value = if m.event == Topic::Viewers.name() {
                    m.json::<u64>().ok()
                } else {
                    m.json::<Snapshot>().ok().map(|s| s.viewers)
                };
                if let Some(value) = value {
                    count.set(value);
                }
            }),
    );
    view! {
        <section class="card viewers" aria-labelledby="viewers-title">
            <h2 id="viewers-title">"Viewers"</h2>
            <p class="big">
                <span data-testid="viewer-count" aria-live="polite">{move || count.get()}</span>
                " watching now (browsers, not tabs)"
            </p>
        </section>
    }
}
