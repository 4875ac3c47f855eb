//! The message feed, newest first.

use crate::contract::Snapshot;
use leptos::prelude::*;

#[component]
pub fn MessageFeed(state: RwSignal<Snapshot>) -> impl IntoView {
    let items = move || {
        state.with(|s| {
            s.messages
                .iter()
                .map(|m| {
                    view! {
                        <li data-testid="message-item" class="message">
                            <span class="message-text">{m.message.clone()}</span>
                            <time datetime=m.timestamp.clone()>
                                {super::rooms::clock_time(&m.timestamp).to_owned()}
                            </time>
                        </li>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <section class="card messages" aria-labelledby="messages-title">
            <h2 id="messages-title">"Messages"</h2>
            <ul data-testid="message-feed" aria-live="polite">{items}</ul>
        </section>
    }
}
