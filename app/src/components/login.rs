//! The login panel: exchanges the token for a session cookie. Without it the dashboard is read-only and says so.

use crate::api::{self, ApiFailure};
use crate::contract::api::{paths, Login, SessionState};
use leptos::prelude::*;

#[component]
pub fn LoginPanel(can_write: RwSignal<bool>) -> impl IntoView {
    let token = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

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
                api::post_json(paths::SESSION, &body).await;
            busy.set(false);
            match result {
                Ok(_) => {
                    token.set(String::new());
                    error.set(None);
                    can_write.set(true);
                }
                Err(ApiFailure::Refused { status: 401, .. }) => {
                    error.set(Some("That token is not right.".to_owned()))
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let logout = move |_| {
        leptos::task::spawn_local(async move {
            let _ = api::delete(paths::SESSION).await;
            can_write.set(false);
        });
    };

    view! {
        <section class="card login" aria-labelledby="login-title">
            <h2 id="login-title">"Access"</h2>
            <Show
                when=move || can_write.get()
                fallback=move || {
                    view! {
                        <p class="read-only" data-testid="read-only-note">
                            "Read-only: log in with the write token to change devices, post messages and run jobs."
                        </p>
                        <form class="login-form" on:submit=submit>
                            <label for="login-token">"Write token"</label>
                            <input
                                id="login-token"
                                type="password"
                                autocomplete="current-password"
                                data-testid="login-token"
                                prop:value=move || token.get()
                                on:input=move |ev| token.set(event_target_value(&ev))
                            />
                            <button type="submit" data-testid="login-submit" disabled=move || busy.get()>
                                "Log in"
                            </button>
                        </form>
                        <p class="form-error" role="alert" data-testid="login-error">
                            {move || error.get().unwrap_or_default()}
                        </p>
                    }
                }
            >
                <p data-testid="logged-in">"You can change devices, post messages and run jobs."</p>
                <button type="button" data-testid="logout" on:click=logout>
                    "Log out"
                </button>
            </Show>
        </section>
    }
}
