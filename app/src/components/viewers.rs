//! The live viewer count, compact, for the header: browsers with the dashboard open (a browser's tabs share one
//! stream, and the server counts streams). It subscribes to `/events` itself, the same URL as the dashboard, so it
//! shares the dashboard's one connection rather than opening a second (the hook shares by URL).

use super::icons::eye_icon;
use crate::contract::api::paths;
use crate::contract::{Snapshot, Topic, RESET_EVENT, SNAPSHOT_EVENT};
use crate::hooks::{use_event_source, UseEventSourceOptions};
use leptos::prelude::*;

#[component]
pub fn ViewerCount(initial: u64) -> impl IntoView {
    let count = RwSignal::new(initial);
    use_event_source(
        paths::EVENTS,
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
    let label = move || {
        let n = count.get();
        format!(
            "{n} {} watching now (a browser's tabs count once)",
            if n == 1 { "browser" } else { "browsers" }
        )
    };
    view! {
        <span class="viewers" title=label>
            {eye_icon()}
            <span data-testid="viewer-count">{move || count.get()}</span>
            <span class="sr-only">" browsers watching now"</span>
        </span>
    }
}
