//! Logging in, from the header: a "Log in" button opens a small form that exchanges the token for a session
//! cookie; once in, the header says so and offers "Log out". Without a session the pages are read-only.

use crate::contract::api::{paths, Login, SessionState};
use crate::http::{self, ApiFailure};
use leptos::either::Either;
use leptos::html;
use leptos::prelude::*;

/// Whether this page may write, shared by every page and widget (provided once by the app).
#[derive(Debug, Clone, Copy)]
pub struct Session(pub RwSignal<bool>);

/// The page's session signal, or a read-only one outside the app.
pub fn use_session() -> RwSignal<bool> {
    use_context::<Session>()
        .map(|s| s.0)
        .unwrap_or_else(|| RwSignal::new(false))
}

#[component]
pub fn LoginControl() -> impl IntoView {
    let can_write = use_session();
    let open = RwSignal::new(false);
    let token = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let input = NodeRef::<html::Input>::new();
    let opener = NodeRef::<html::Button>::new();

    // Focus the token field as the form opens, so the keyboard goes where the eye does.
    Effect::new(move |_| {
        if open.get() {
            if let Some(field) = input.get() {
                let _ = field.focus();
            }
        }
    });
    let close = move || {
        open.set(false);
        if let Some(button) = opener.get_untracked() {
            let _ = button.focus();
        }
    };

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = Login {
            token: token.get_untracked(),
        };
        if body.token.trim().is_empty() {
            error.set(Some("Enter the write token.".to_owned()));
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            let result: Result<SessionState, ApiFailure> =
                http::post_json(paths::SESSION, &body).await;
            busy.set(false);
            match result {
                Ok(_) => {
                    token.set(String::new());
                    error.set(None);
                    open.set(false);
                    can_write.set(true);
                }
                Err(ApiFailure::Refused { status: 401, .. }) => {
                    error.set(Some("That token is not right.".to_owned()))
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    // A logout the server could not record (503 while its store is away) ended nothing: the cookie still
    // works, so the page stays signed in and says so rather than pretending.
    let logout = move |_| {
        leptos::task::spawn_local(async move {
            match http::delete(paths::SESSION).await {
                Ok(()) => {
                    error.set(None);
                    can_write.set(false);
                }
                Err(e) => error.set(Some(format!("Not logged out: {e}"))),
            }
        });
    };

    // Changes of the session, not every write to it, swap the button (as `<Show>` would).
    let logged_in = Memo::new(move |_| can_write.get());
    view! {
        <div class="login">
            // `Either` rather than `<Show>`, whose fallback is an `AnyView`: that boxes the code to build,
            // update and hydrate it (asynchronously too) into the bundle, where `Either` compiles what is used.
            {move || {
                if logged_in.get() {
                    Either::Left(view! {
                        <span class="logged-in" data-testid="logged-in">
                            <span class="muted">"Signed in"</span>
                            <button type="button" class="button" data-testid="logout" on:click=logout>
                                "Log out"
                            </button>
                            <span class="form-error" role="alert" data-testid="logout-error">
                                {move || error.get().unwrap_or_default()}
                            </span>
                        </span>
                    })
                } else {
                    Either::Right(view! {
                        <button
                            type="button"
                            class="button primary"
                            data-testid="login-open"
                            aria-expanded=move || if open.get() { "true" } else { "false" }
                            aria-controls="login-panel"
                            node_ref=opener
                            on:click=move |_| open.update(|o| *o = !*o)
                        >
                            "Log in"
                        </button>
                    })
                }
            }}
            <div
                id="login-panel"
                class="login-panel"
                role="dialog"
                aria-label="Log in"
                hidden=move || !open.get() || can_write.get()
                on:keydown=move |ev| {
                    if ev.key() == "Escape" {
                        close();
                    }
                }
            >
                <form class="login-form" on:submit=submit>
                    <label for="login-token">"Write token"</label>
                    <input
                        id="login-token"
                        type="password"
                        autocomplete="current-password"
                        data-testid="login-token"
                        node_ref=input
                        prop:value=move || token.get()
                        on:input=move |ev| token.set(event_target_value(&ev))
                    />
                    <div class="form-actions">
                        <button type="button" class="button" on:click=move |_| close()>
                            "Cancel"
                        </button>
                        <button type="submit" class="button primary" data-testid="login-submit" disabled=move || busy.get()>
                            "Log in"
                        </button>
                    </div>
                    <p class="form-error" role="alert" data-testid="login-error">
                        {move || error.get().unwrap_or_default()}
                    </p>
                    <p class="muted small">"The token is printed by the server at its first start."</p>
                </form>
            </div>
        </div>
    }
}

/// One line under the header while logged out: what the page cannot do, and how to change that.
#[component]
pub fn ReadOnlyNote() -> impl IntoView {
    let can_write = use_session();
    view! {
        <p class="read-only" data-testid="read-only-note" hidden=move || can_write.get()>
            "Read-only. Log in to switch devices, post messages and run jobs."
        </p>
    }
}
