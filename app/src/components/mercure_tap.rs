//! The inspector's Mercure side: follow any topic of the hub at `/.well-known/mercure` (selectors typed in, one a
//! line: exact topics, URI templates, `*`), optionally with a token pasted in (sent as the `authorization` query
//! parameter, the one way an `EventSource` can carry it), and publish an update to a topic.
//!
//! The browser talks to the hub as any Mercure client does; with no token pasted, a logged-in owner's session
//! cookie stands in for one. The stream itself is the inspector's (`TapStream`), given a [`MercureTap`].

use crate::http;
use leptos::prelude::*;

/// The hub's path, fixed by the Mercure protocol.
pub const HUB: &str = "/.well-known/mercure";

/// What to follow on the Mercure hub.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MercureTap {
    pub selectors: Vec<String>,
    /// A Mercure token; empty for none.
    pub token: String,
    /// Event types to listen for besides `message` (an update's `type`).
    pub types: Vec<String>,
}

/// Percent-encodes everything but RFC 3986's unreserved characters (a query value, safely).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The lines of `text`, trimmed, blanks left out (also splitting on commas when `commas`).
pub fn lines(text: &str, commas: bool) -> Vec<String> {
    text.split(|c| c == '\n' || (commas && c == ','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl MercureTap {
    /// The stream's URL, relative to the page (the hook adds `lastEventID` when it resumes).
    pub fn url(&self) -> String {
        let mut pairs: Vec<String> = self
            .selectors
            .iter()
            .map(|s| format!("topic={}", encode(s)))
            .collect();
        if !self.token.is_empty() {
            pairs.push(format!("authorization={}", encode(&self.token)));
        }
        format!("{HUB}?{}", pairs.join("&"))
    }

    /// The same stream for a terminal (the token as a header, where a terminal can put it).
    pub fn curl(&self, origin: &str, from: Option<&str>) -> String {
        let topics: Vec<String> = self
            .selectors
            .iter()
            .map(|s| format!("topic={}", encode(s)))
            .collect();
        let mut cmd = format!("curl -N '{origin}{HUB}?{}'", topics.join("&"));
        if !self.token.is_empty() {
            cmd.push_str(&format!(" -H 'Authorization: Bearer {}'", self.token));
        }
        if let Some(id) = from {
            cmd.push_str(&format!(" -H 'Last-Event-ID: {id}'"));
        }
        cmd
    }
}

/// The form body of a publish.
pub fn publish_form(topic: &str, data: &str, private: bool) -> String {
    let mut form = format!("topic={}&data={}", encode(topic), encode(data));
    if private {
        form.push_str("&private=on");
    }
    form
}

/// Follow Mercure topics, and publish to one. `follow` is called with what to follow.
#[component]
pub fn MercureCard(follow: Callback<MercureTap>) -> impl IntoView {
    let selectors = RwSignal::new(String::from("https://example.com/books/{id}"));
    let token = RwSignal::new(String::new());
    let types = RwSignal::new(String::new());
    let topic = RwSignal::new(String::from("https://example.com/books/1"));
    let data = RwSignal::new(String::from("Hello from the inspector"));
    let private = RwSignal::new(false);
    let result = RwSignal::new(None::<Result<String, String>>);
    let submit_follow = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        follow.run(MercureTap {
            selectors: lines(&selectors.get_untracked(), false),
            token: token.get_untracked().trim().to_owned(),
            types: lines(&types.get_untracked(), true),
        });
    };
    let submit_publish = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = publish_form(
            topic.get_untracked().trim(),
            &data.get_untracked(),
            private.get_untracked(),
        );
        let bearer = Some(token.get_untracked().trim().to_owned()).filter(|t| !t.is_empty());
        leptos::task::spawn_local(async move {
            let answer = http::post_form(HUB, form, bearer).await;
            result.set(Some(match answer {
                Ok(id) => Ok(format!("Published as {id}.")),
                Err(e) => Err(e.to_string()),
            }));
        });
    };
    view! {
        <section class="card" aria-labelledby="mercure-title">
            <h2 id="mercure-title">"Mercure topics"</h2>
            <form class="mercure" on:submit=submit_follow>
                <label for="mercure-topics">"Topic selectors, one a line"</label>
                <textarea
                    id="mercure-topics"
                    rows="2"
                    data-testid="inspector-mercure-topics"
                    prop:value=move || selectors.get()
                    on:input=move |ev| selectors.set(event_target_value(&ev))
                ></textarea>
                <label for="mercure-token">"Token (optional)"</label>
                <input
                    id="mercure-token"
                    type="text"
                    autocomplete="off"
                    data-testid="inspector-mercure-token"
                    prop:value=move || token.get()
                    on:input=move |ev| token.set(event_target_value(&ev))
                />
                <label for="mercure-types">"Event types besides message"</label>
                <input
                    id="mercure-types"
                    type="text"
                    autocomplete="off"
                    prop:value=move || types.get()
                    on:input=move |ev| types.set(event_target_value(&ev))
                />
                <button type="submit" class="button primary" data-testid="inspector-mercure-follow">
                    "Follow"
                </button>
            </form>
            <form class="publish" on:submit=submit_publish>
                <label for="mercure-topic">"Publish to topic"</label>
                <input
                    id="mercure-topic"
                    type="text"
                    data-testid="inspector-mercure-publish-topic"
                    prop:value=move || topic.get()
                    on:input=move |ev| topic.set(event_target_value(&ev))
                />
                <label for="mercure-data">"Data"</label>
                <input
                    id="mercure-data"
                    type="text"
                    data-testid="inspector-mercure-publish-data"
                    prop:value=move || data.get()
                    on:input=move |ev| data.set(event_target_value(&ev))
                />
                <label class="check" for="mercure-private">
                    <input
                        type="checkbox"
                        id="mercure-private"
                        prop:checked=move || private.get()
                        on:change=move |ev| private.set(event_target_checked(&ev))
                    />
                    "Private"
                </label>
                <button type="submit" class="button" data-testid="inspector-mercure-publish">
                    "Publish"
                </button>
                <p
                    class=move || if matches!(result.get(), Some(Err(_))) { "form-error" } else { "muted" }
                    role="status"
                    data-testid="inspector-mercure-publish-result"
                >
                    {move || match result.get() {
                        Some(Ok(m)) | Some(Err(m)) => m,
                        None => String::new(),
                    }}
                </p>
            </form>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_curl_and_form_encode_what_they_carry() {
        let tap = MercureTap {
            selectors: vec!["https://example.com/books/{id}".into(), "a b".into()],
            token: "t.k.n".into(),
            types: vec![],
        };
        assert_eq!(
            tap.url(),
            "/.well-known/mercure?topic=https%3A%2F%2Fexample.com%2Fbooks%2F%7Bid%7D&topic=a%20b&authorization=t.k.n"
        );
        assert_eq!(
            tap.curl("http://h", Some("urn:hearth:4")),
            "curl -N 'http://h/.well-known/mercure?topic=https%3A%2F%2Fexample.com%2Fbooks%2F%7Bid%7D&topic=a%20b' \
             -H 'Authorization: Bearer t.k.n' -H 'Last-Event-ID: urn:hearth:4'"
        );
        assert_eq!(
            publish_form("t/1", "a&b", true),
            "topic=t%2F1&data=a%26b&private=on"
        );
        assert_eq!(lines(" a \n\n b,c ", true), ["a", "b", "c"]);
        assert_eq!(lines(" a \n b,c ", false), ["a", "b,c"]);
    }
}
