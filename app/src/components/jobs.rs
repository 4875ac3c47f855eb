//! The job runner: starts a long-running job and follows its own stream (`/api/jobs/{id}/events`) until `done`.

use crate::contract::api::{paths, JobStarted};
use crate::contract::JobUpdate;
use crate::hooks::{use_event_source, ReconnectPolicy, UseEventSourceOptions};
use crate::http::{self, ApiFailure};
use leptos::prelude::*;

#[component]
pub fn JobRunner(can_write: RwSignal<bool>) -> impl IntoView {
    let job = RwSignal::new(None::<(String, String)>);
    let error = RwSignal::new(None::<String>);
    let start = move |_| {
        error.set(None);
        leptos::task::spawn_local(async move {
            let result: Result<JobStarted, ApiFailure> =
                http::post_json(paths::JOBS, &http::NoFields {}).await;
            match result {
                Ok(started) => job.set(Some((started.id, started.events))),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <section class="card jobs" aria-labelledby="jobs-title">
            <div class="card-head">
                <h2 id="jobs-title">"Jobs"</h2>
                <p class="muted">"A long task, followed on its own stream"</p>
            </div>
            <button
                type="button"
                class="button"
                data-testid="job-start"
                on:click=start
                disabled=move || !can_write.get()
                title=move || if can_write.get() { "" } else { "Log in to run jobs" }
            >
                "Start a job"
            </button>
            <p class="form-error" role="alert">{move || error.get().unwrap_or_default()}</p>
            {move || job.get().map(|(id, url)| view! { <JobProgress id url /> })}
        </section>
    }
}

/// One job's progress bar, fed by the job's own stream; the stream is closed once the job is done.
#[component]
fn JobProgress(id: String, url: String) -> impl IntoView {
    let progress = RwSignal::new(0u8);
    let done = RwSignal::new(false);
    let sse = use_event_source(
        &url,
        UseEventSourceOptions::default()
            .events(["progress", "done"])
            // A finished job answers 204; the server ends the stream after `done`, and so do we.
            .reconnect(ReconnectPolicy {
                max_attempts: Some(5),
                ..ReconnectPolicy::default()
            })
            .pause_when_hidden(false)
            .on_message(move |m| {
                if let Ok(update) = m.json::<JobUpdate>() {
                    progress.set(update.progress);
                    done.set(update.done);
                }
            }),
    );
    Effect::new(move |_| {
        if done.get() {
            sse.close();
        }
    });
    view! {
        <div class="job">
            <label for=format!("job-{id}")>{format!("Job {id}")}</label>
            <progress
                id=format!("job-{id}")
                data-testid="job-progress"
                max="100"
                value=move || progress.get()
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=move || progress.get()
            ></progress>
            <span class="job-status" data-testid="job-status" aria-live="polite">
                {move || if done.get() { "done".to_owned() } else { format!("{} %", progress.get()) }}
            </span>
        </div>
    }
}
