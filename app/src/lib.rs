//! Hearth's shared crate: everything the browser and the server both need.
//!
//! - [`contract`]: the typed event contract (topics, payloads, the snapshot reducer, input newtypes).
//! - [`hooks`]: `use_event_source`, the SSE hook.
//! - [`components`] and [`shell`] / [`App`]: the dashboard, rendered on the server and hydrated in the browser.

pub mod components;
pub mod contract;
pub mod hooks;

use components::dashboard::Dashboard;
use contract::Snapshot;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};

/// The id of the `<script type="application/json">` that carries the server's snapshot to the hydrating page.
pub const SNAPSHOT_ELEMENT_ID: &str = "hearth-snapshot";

/// The HTML document around the app. Rendered on the server only; the browser hydrates `<body>`.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let snapshot = use_context::<Snapshot>().unwrap_or_default();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
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

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/hearth.css" />
        <Title text="Hearth" />
        <Dashboard initial=initial_snapshot() />
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::{Message, Payload};

    #[test]
    fn embedded_snapshot_cannot_close_its_script_element() {
        let mut snap = Snapshot::default();
        snap.apply(
            1,
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
