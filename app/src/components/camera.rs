//! The front-door camera card: the latest snapshot and when it was taken. The image comes by URL (the event
//! carries only that), so the browser fetches and caches it like any image; a new shot is a new URL.

use super::clock::{exact_time, parse_rfc3339_ms, use_clock, RelativeTime};
use crate::contract::Snapshot;
use leptos::either::Either;
use leptos::prelude::*;

#[component]
pub fn CameraCard(state: RwSignal<Snapshot>) -> impl IntoView {
    let clock = use_clock();
    let shot = Memo::new(move |_| state.with(|s| s.camera_shot().cloned()));
    let taken = Signal::derive(move || {
        shot.with(|s| s.as_ref().map(|s| s.taken_at.clone()).unwrap_or_default())
    });
    view! {
        <section class="card camera" aria-labelledby="camera-title">
            <div class="card-head">
                <h2 id="camera-title">"Front door"</h2>
                <p class="muted">
                    "Snapshot " <RelativeTime at=taken testid="camera-taken" missing="not taken yet" />
                </p>
            </div>
            {move || match shot.get() {
                Some(shot) => {
                    let alt = parse_rfc3339_ms(&shot.taken_at)
                        .map(|t| format!("Front door camera, snapshot of {}", exact_time(t, clock.offset_min.get())))
                        .unwrap_or_else(|| "Front door camera snapshot".to_owned());
                    Either::Left(view! {
                        <img
                            class="camera-image"
                            data-testid="camera-image"
                            src=shot.url
                            alt=alt
                            width="640"
                            height="360"
                            decoding="async"
                        />
                    })
                }
                None => Either::Right(view! { <p class="camera-empty" data-testid="camera-empty">"No snapshot yet."</p> }),
            }}
        </section>
    }
}
