//! Hearth's shared crate: everything the browser and the server both need.
//!
//! - [`contract`]: the typed event contract (topics, payloads, the snapshot reducer, input newtypes).
//! - [`hooks`]: `use_event_source`, the SSE hook.
//! - [`http`]: the browser's calls to the HTTP API (whose paths and bodies are [`contract::api`]).
//! - [`components`] and [`shell`] / [`App`]: the pages (the dashboard at `/`, the event inspector at
//!   `/inspector`), rendered on the server and hydrated in the browser.

pub mod components;
pub mod contract;
pub mod hooks;
pub mod http;

use components::clock::provide_clock;
use components::dashboard::Dashboard;
use components::inspector::Inspector;
use components::login::Session;
use contract::Snapshot;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet};

/// Whether this browser may write (it has a login session). The server knows from the cookie; the page learns
/// it from a `<meta>` tag, because the cookie itself is HttpOnly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CanWrite(pub bool);

/// The name of the `<meta>` that carries [`CanWrite`] to the hydrating page.
pub const CAN_WRITE_META: &str = "hearth-writer";

/// The id of the `<script type="application/json">` that carries the server's snapshot to the hydrating page.
pub const SNAPSHOT_ELEMENT_ID: &str = "hearth-snapshot";

/// The HTML document around the app. Rendered on the server only; the browser hydrates `<body>`.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let snapshot = use_context::<Snapshot>().unwrap_or_default();
    let can_write = use_context::<CanWrite>().unwrap_or_default().0;
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <meta name=CAN_WRITE_META content=if can_write { "true" } else { "false" } />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
                <script type="application/json" id=SNAPSHOT_ELEMENT_ID inner_html=snapshot_json(&snapshot)></script>
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The snapshot as JSON that is safe inside a `<script>` element: `<` is escaped so no `</script>` can appear.
pub fn snapshot_json(snapshot: &Snapshot) -> String {
    serde_json::to_string(snapshot)
        .unwrap_or_else(|_| "{}".to_owned())
        .replace('<', "\\u003c")
}

/// The snapshot the page starts from: the server's context while rendering, the embedded JSON when hydrating.
/// Both sides must produce the same first view, or hydration would not match.
pub fn initial_snapshot() -> Snapshot {
    #[cfg(feature = "hydrate")]
    {
        let text = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(SNAPSHOT_ELEMENT_ID))
            .and_then(|e| e.text_content());
        if let Some(snapshot) = text.and_then(|t| serde_json::from_str(&t).ok()) {
            return snapshot;
        }
    }
    use_context::<Snapshot>().unwrap_or_default()
}

/// Whether the page starts logged in: the server's context while rendering, the `<meta>` when hydrating.
pub fn initial_can_write() -> bool {
    #[cfg(feature = "hydrate")]
    {
        let meta = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| {
                d.query_selector(&format!("meta[name={CAN_WRITE_META}]"))
                    .ok()
                    .flatten()
            })
            .and_then(|e| e.get_attribute("content"));
        if let Some(content) = meta {
            return content == "true";
        }
    }
    use_context::<CanWrite>().unwrap_or_default().0
}

/// Which page a request is for. The server picks it from the request's path and renders that page; the
/// browser reads the same from its location, so both render the same page and hydration matches.
///
/// Two pages need no client-side router: a link between them is an ordinary page load (each page is
/// server-rendered and opens its own stream anyway), and leaving the router out keeps about 150 KB out of the
/// WASM bundle that phones download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Dashboard,
    Inspector,
}

impl Page {
    pub const ALL: [Page; 2] = [Page::Dashboard, Page::Inspector];

    pub const fn path(self) -> &'static str {
        match self {
            Page::Dashboard => "/",
            Page::Inspector => "/inspector",
        }
    }

    pub fn from_path(path: &str) -> Option<Page> {
        Page::ALL.into_iter().find(|p| p.path() == path)
    }
}

/// The page being shown: the server's context while rendering, the location when hydrating.
pub fn current_page() -> Page {
    #[cfg(feature = "hydrate")]
    {
        let path = web_sys::window().and_then(|w| w.location().pathname().ok());
        if let Some(page) = path.as_deref().and_then(Page::from_path) {
            return page;
        }
    }
    use_context::<Page>().unwrap_or(Page::Dashboard)
}

/// The app: the page asked for, with the login state and the clock every page shares.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_context(Session(RwSignal::new(initial_can_write())));
    provide_clock();
    let page = current_page();
    provide_context(page);
    // `Either`, not `.into_any()`: an `AnyView` keeps function pointers to every way its view can be made
    // (built from scratch, rebuilt, hydrated, hydrated asynchronously), so all of that code for both whole pages
    // stayed in the WASM bundle although a page is only ever hydrated once. `Either` compiles only what is
    // called (about 224 KB less WASM, 91 KB gzipped).
    let body = match page {
        Page::Dashboard => Either::Left(view! { <Dashboard initial=initial_snapshot() /> }),
        Page::Inspector => Either::Right(view! { <Inspector /> }),
    };
    view! {
        <Stylesheet id="leptos" href="/pkg/hearth.css" />
        <leptos_meta::Link rel="icon" href="/favicon.svg" type_="image/svg+xml" />
        {body}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::{Message, Payload};

    #[test]
    fn pages_are_found_by_their_exact_path() {
        for page in Page::ALL {
            assert_eq!(Page::from_path(page.path()), Some(page));
        }
        assert_eq!(Page::from_path("/inspector/"), None);
        assert_eq!(Page::from_path("/garage"), None);
    }

    #[test]
    fn embedded_snapshot_cannot_close_its_script_element() {
        let mut snap = Snapshot::default();
        snap.apply(
            Some(1),
            &Payload::Message(Message {
                id: 1,
                title: "t".into(),
                message: "</script><script>alert(1)</script>".into(),
                timestamp: "t".into(),
            }),
        );
        let json = snapshot_json(&snap);
        assert!(!json.contains("</script"));
        let back: Snapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(back, snap);
    }
}
