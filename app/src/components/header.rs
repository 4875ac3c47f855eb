//! The header every page shares: the name, the pages, what the page is connected to, and the login.

use super::badge::ConnectionBadge;
use super::icons::logo;
use super::login::LoginControl;
use super::viewers::ViewerCount;
use crate::hooks::ReadyState;
use crate::Page;
use leptos::prelude::*;

#[component]
pub fn Header(
    /// The state of the page's stream, for the badge.
    state: Signal<ReadyState>,
    /// The dashboard's live viewer count, shown before the badge, starting from this value. A typed prop rather
    /// than `children`, which would box the count's view into an `AnyView` and all its code with it.
    #[prop(optional)]
    viewers: Option<u64>,
) -> impl IntoView {
    let current = use_context::<Page>().unwrap_or(Page::Dashboard);
    let link = move |page: Page, label: &'static str| {
        view! {
            <a href=page.path() aria-current=(page == current).then_some("page")>
                {label}
            </a>
        }
    };
    view! {
        <header class="top">
            <div class="top-inner">
                <a class="brand" href="/">
                    {logo()}
                    <span>"Hearth"</span>
                </a>
                <nav class="pages" aria-label="Pages">
                    {link(Page::Dashboard, "Home")}
                    {link(Page::Inspector, "Inspector")}
                </nav>
                <div class="status">
                    {viewers.map(|initial| view! { <ViewerCount initial /> })}
                    <ConnectionBadge state />
                    <LoginControl />
                </div>
            </div>
        </header>
    }
}
