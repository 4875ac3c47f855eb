//! A sensor's last half hour as a small line: enough to see which way it is going, no axes (the living room's
//! chart has those). Drawn as one SVG path computed here, on both sides, so the server renders what the browser
//! will and the geometry is unit-tested.

use crate::contract::{TrendPoint, TREND_WINDOW_MS};
use leptos::prelude::*;

/// The drawing's size in SVG units; it is scaled to its box by CSS.
const WIDTH: f64 = 120.0;
const HEIGHT: f64 = 28.0;
/// Room above and below the line, so a flat reading does not sit on the edge.
const PAD: f64 = 2.0;

/// The path of `points` over the half hour ending at the newest one: time left to right, the lowest reading at
/// the bottom and the highest at the top. Empty with fewer than two points.
pub fn trend_path(points: &[TrendPoint]) -> String {
    let Some(last) = points.last() else {
        return String::new();
    };
    if points.len() < 2 {
        return String::new();
    }
    let start = last.t - TREND_WINDOW_MS;
    let (low, high) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.v), hi.max(p.v))
        });
    let span = high - low;
    let flat = span.abs() < f64::EPSILON;
    let x = |t: f64| ((t - start) / TREND_WINDOW_MS).clamp(0.0, 1.0) * WIDTH;
    let y = |v: f64| {
        if flat {
            HEIGHT / 2.0
        } else {
            PAD + (1.0 - (v - low) / span) * (HEIGHT - 2.0 * PAD)
        }
    };
    let mut path = String::with_capacity(points.len() * 14);
    for (i, p) in points.iter().enumerate() {
        let command = if i == 0 { 'M' } else { 'L' };
        path.push_str(&format!("{command}{:.1} {:.1}", x(p.t), y(p.v)));
    }
    path
}

/// The trend line, with a text alternative saying the range it covers.
#[component]
pub fn Trend(points: Memo<Vec<TrendPoint>>, testid: String) -> impl IntoView {
    let path = move || points.with(|p| trend_path(p));
    let label = move || {
        points.with(|p| {
            let (lo, hi) = p
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                    (lo.min(p.v), hi.max(p.v))
                });
            if p.len() < 2 {
                "Not enough readings yet for a trend".to_owned()
            } else {
                format!("Last 30 minutes: between {lo:.1} and {hi:.1}")
            }
        })
    };
    view! {
        <svg
            class="trend"
            viewBox=format!("0 0 {WIDTH} {HEIGHT}")
            preserveAspectRatio="none"
            role="img"
            aria-label=label
            data-testid=testid
            data-points=move || points.with(Vec::len).to_string()
        >
            <path class="trend-line" d=path></path>
        </svg>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(minutes_ago: f64, v: f64) -> TrendPoint {
        TrendPoint {
            t: 1_800_000_000_000.0 - minutes_ago * 60_000.0,
            v,
        }
    }

    #[test]
    fn the_line_runs_from_the_window_start_to_the_right_edge_low_at_the_bottom() {
        let path = trend_path(&[point(30.0, 10.0), point(15.0, 20.0), point(0.0, 15.0)]);
        assert_eq!(path, "M0.0 26.0L60.0 2.0L120.0 14.0");
    }

    #[test]
    fn a_flat_reading_is_a_line_across_the_middle_and_one_point_draws_nothing() {
        let path = trend_path(&[point(10.0, 5.0), point(0.0, 5.0)]);
        assert_eq!(path, "M80.0 14.0L120.0 14.0");
        assert_eq!(trend_path(&[point(0.0, 5.0)]), "");
        assert_eq!(trend_path(&[]), "");
    }
}
