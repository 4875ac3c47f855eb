//! The living-room temperature: the latest reading and an SVG line chart of recent ones.

use crate::contract::{Snapshot, Temperature};
use leptos::prelude::*;

const WIDTH: f64 = 300.0;
const HEIGHT: f64 = 100.0;

/// SVG polyline points for the readings, scaled to fill the chart (a flat line sits in the middle).
pub fn chart_points(readings: &[Temperature]) -> String {
    if readings.is_empty() {
        return String::new();
    }
    let (lo, hi) = readings.iter().fold((f64::MAX, f64::MIN), |(lo, hi), r| {
        (lo.min(r.temperature), hi.max(r.temperature))
    });
    let span = hi - lo;
    let step = if readings.len() > 1 {
        WIDTH / (readings.len() - 1) as f64
    } else {
        0.0
    };
    readings
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let y = if span > 0.0 {
                HEIGHT - (r.temperature - lo) / span * HEIGHT
            } else {
                HEIGHT / 2.0
            };
            format!("{:.1},{:.1}", i as f64 * step, y)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[component]
pub fn TemperatureCard(state: RwSignal<Snapshot>) -> impl IntoView {
    let value = move || {
        state.with(|s| {
            s.temperature()
                .map(|t| format!("{:.1}", t.temperature))
                .unwrap_or_else(|| "–".to_owned())
        })
    };
    let points = move || state.with(|s| chart_points(&s.temperatures));
    view! {
        <section class="card temperature" aria-labelledby="temperature-title">
            <h2 id="temperature-title">"Living-room temperature"</h2>
            <p class="big">
                <span data-testid="temperature-value" aria-live="polite">{value}</span>
                " °C"
            </p>
            <svg
                data-testid="temperature-chart"
                class="chart"
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                preserveAspectRatio="none"
                role="img"
                aria-label="Recent living-room temperatures"
            >
                <polyline points=points fill="none" stroke="currentColor" stroke-width="2" />
            </svg>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: f64) -> Temperature {
        Temperature {
            temperature: v,
            updated_at: String::new(),
        }
    }

    #[test]
    fn chart_spans_the_box() {
        assert_eq!(chart_points(&[]), "");
        assert_eq!(chart_points(&[t(20.0), t(22.0)]), "0.0,100.0 300.0,0.0");
        assert_eq!(chart_points(&[t(20.0)]), "0.0,50.0");
    }
}
