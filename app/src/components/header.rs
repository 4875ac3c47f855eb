//! The header every page shares: the name, the pages, what the page is connected to, and the login.

use super::badge::ConnectionBadge;
use super::icons::logo;
use super::login::LoginControl;
use crate::hooks::ReadyState;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn Header(
    /// The state of the page's stream, for the badge.
    state: Signal<ReadyState>,
    /// Extra status shown before the badge (the dashboard's viewer count).
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    view! {
        <header class="top">
            <div class="top-inner">
                <a class="brand" href="/">
                    {logo()}
                    <span>"Hearth"</span>
                </a>
                <nav class="pages" aria-label="Pages">
                    <A href="/" exact=true>"Home"</A>
                    <A href="/inspector">"Inspector"</A>
                </nav>
                <div class="status">
                    {children.map(|c| c())}
                    <ConnectionBadge state />
                    <LoginControl />
                </div>
            </div>
        </header>
    }
    .into_any()
}
