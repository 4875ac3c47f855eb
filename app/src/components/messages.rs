//! The message feed, newest first, and the form that posts to it.

use super::clock::RelativeTime;
use crate::contract::api::{paths, MessagePosted, NewMessage};
use crate::contract::{MessageBody, Snapshot};
use crate::http::{self, ApiFailure};
use leptos::prelude::*;

#[component]
pub fn MessageFeed(state: RwSignal<Snapshot>, can_write: RwSignal<bool>) -> impl IntoView {
    let draft = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let sending = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        // The same rule the server applies, checked before sending so the person hears it at once.
        let body = match MessageBody::parse(&draft.get_untracked()) {
            Ok(body) => body,
            Err(e) => {
                error.set(Some(format!("The message {e}.")));
                return;
            }
        };
        sending.set(true);
        leptos::task::spawn_local(async move {
            let result: Result<MessagePosted, ApiFailure> = http::post_json(
                paths::MESSAGE,
                &NewMessage {
                    message: body.into_inner(),
                },
            )
            .await;
            sending.set(false);
            match result {
                Ok(_) => {
                    draft.set(String::new());
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let items = move || {
        state.with(|s| {
            s.messages
                .iter()
                .map(|m| {
                    view! {
                        <li data-testid="message-item" class="message">
                            <span class="message-text">{m.message.clone()}</span>
                            <RelativeTime at=Signal::stored(m.timestamp.clone()) />
                        </li>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <section class="card messages" aria-labelledby="messages-title">
            <div class="card-head">
                <h2 id="messages-title">"Messages"</h2>
                <p class="muted">"To everyone watching, newest first"</p>
            </div>
            <form class="message-form" on:submit=submit>
                <label for="message-input">"New message"</label>
                <input
                    id="message-input"
                    type="text"
                    maxlength=MessageBody::MAX_CHARS.to_string()
                    data-testid="message-input"
                    prop:value=move || draft.get()
                    on:input=move |ev| draft.set(event_target_value(&ev))
                    disabled=move || !can_write.get()
                />
                <button
                    type="submit"
                    class="button primary"
                    data-testid="message-send"
                    disabled=move || !can_write.get() || sending.get()
                >
                    "Send"
                </button>
            </form>
            <p class="form-error" role="alert">{move || error.get().unwrap_or_default()}</p>
            <ul data-testid="message-feed" aria-live="polite">{items}</ul>
        </section>
    }
}
