//! The living-room temperature: the latest reading, low and high over the last 30 minutes, how long ago it was
//! measured, and a history chart with a °C axis and a clock axis, in the manner of Home Assistant's history graph.
//!
//! Hand-made SVG rather than a chart crate: the chart is one line over two axes, about 150 lines here, while
//! plotters with its SVG backend would add its text layout and colour machinery to a WASM bundle that ships to
//! phones, and would draw a fixed-size image where this one stretches to its card.
//!
//! How it stays honest:
//! - readings are placed by their time, over a window that ends now, so a sensor that stopped shows as a line
//!   that stops short of the right edge, and any sensor period draws right;
//! - the value axis spans at least [`MIN_SPAN`] °C, centred on the readings, so sensor noise of a few tenths
//!   stays a nearly flat line instead of a deep V across the card;
//! - the line is one `<polyline>` in a plot box that stretches (`preserveAspectRatio="none"`, strokes that do not
//!   scale), while the axis labels are HTML, so text keeps its size at 390 px and at 1280 px alike;
//! - a sentence says what the chart shows (trend and range), for screen readers and for anyone in a hurry.

use super::clock::{clock_hm, parse_rfc3339_ms, use_clock, RelativeTime};
use crate::contract::{Snapshot, Temperature};
use leptos::prelude::*;

/// The chart's window.
pub const WINDOW_MS: f64 = 30.0 * 60.0 * 1000.0;
/// The smallest span of the value axis, in °C.
pub const MIN_SPAN: f64 = 2.0;
/// A change smaller than this over the window is "steady".
const STEADY: f64 = 0.3;
/// The plot box's own coordinates (it is stretched to the card).
const BOX: f64 = 1000.0;

/// Readings within the window ending at `end_ms`, as (time ms, °C), oldest first.
pub fn in_window(readings: &[Temperature], end_ms: f64) -> Vec<(f64, f64)> {
    readings
        .iter()
        .filter_map(|r| Some((parse_rfc3339_ms(&r.updated_at)?, r.temperature)))
        .filter(|(t, _)| *t >= end_ms - WINDOW_MS && *t <= end_ms + 60_000.0)
        .collect()
}

/// The value axis: `(low, high, step)` with ticks at multiples of `step`, spanning at least [`MIN_SPAN`].
pub fn value_axis(points: &[(f64, f64)]) -> (f64, f64, f64) {
    let (lo, hi) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), (_, v)| {
            (lo.min(*v), hi.max(*v))
        });
    let (lo, hi) = if points.is_empty() {
        (20.0, 20.0)
    } else {
        (lo, hi)
    };
    let span = (hi - lo).max(MIN_SPAN);
    let mid = (hi + lo) / 2.0;
    let step = if span <= 3.0 {
        0.5
    } else if span <= 6.0 {
        1.0
    } else {
        2.0
    };
    let low = ((mid - span / 2.0) / step).floor() * step;
    let high = ((mid + span / 2.0) / step).ceil() * step;
    (low, high, step)
}

/// The plot geometry for `points` over the window ending at `end_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plot {
    /// `x,y` pairs in the plot box, for the `<polyline>`.
    pub line: String,
    /// The area under the line, for a `<polygon>`.
    pub area: String,
    /// The last point, as percentages of the box (for the marker, drawn in HTML so it stays round).
    pub last: Option<(f64, f64)>,
    /// Value ticks: (position in % from the top, label).
    pub y_ticks: Vec<(f64, String)>,
    /// Time ticks: (position in % from the left, label).
    pub x_ticks: Vec<(f64, String)>,
}

pub fn plot(points: &[(f64, f64)], end_ms: f64, offset_min: i32) -> Plot {
    let (low, high, step) = value_axis(points);
    let start = end_ms - WINDOW_MS;
    let x = |t: f64| ((t - start) / WINDOW_MS * BOX).clamp(0.0, BOX);
    let y = |v: f64| (high - v) / (high - low) * BOX;
    let coords: Vec<(f64, f64)> = points.iter().map(|(t, v)| (x(*t), y(*v))).collect();
    let line = coords
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ");
    let area = match (coords.first(), coords.last()) {
        (Some(first), Some(last)) => {
            format!("{:.1},{BOX} {line} {:.1},{BOX}", first.0, last.0)
        }
        _ => String::new(),
    };
    let steps = ((high - low) / step).round() as i64;
    let y_ticks = (0..=steps)
        .map(|i| {
            let v = high - i as f64 * step;
            (y(v) / BOX * 100.0, format!("{v:.1}°"))
        })
        .collect();
    // Clock ticks every 10 minutes, on round local times.
    let tick = 10.0 * 60.0 * 1000.0;
    let shift = f64::from(offset_min) * 60_000.0;
    let mut t = ((start + shift) / tick).ceil() * tick - shift;
    let mut x_ticks = Vec::new();
    while t <= end_ms {
        x_ticks.push((x(t) / BOX * 100.0, clock_hm(t, offset_min)));
        t += tick;
    }
    Plot {
        line,
        area,
        last: coords
            .last()
            .map(|(x, y)| (x / BOX * 100.0, y / BOX * 100.0)),
        y_ticks,
        x_ticks,
    }
}

/// The horizontal grid at the value ticks, as one path (a segment per tick) in the plot box: one element that
/// changes its `d`, where a `<line>` per tick made a list of elements to build and diff.
pub fn grid_path(y_ticks: &[(f64, String)]) -> String {
    y_ticks
        .iter()
        .map(|(top, _)| format!("M0,{:.1}H{BOX}", top / 100.0 * BOX))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Which way the temperature went over the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    Rising,
    Falling,
    Steady,
}

/// Low, high and trend of the readings in the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub low: f64,
    pub high: f64,
    pub change: f64,
    pub trend: Trend,
    pub minutes: u64,
}

pub fn summarize(points: &[(f64, f64)]) -> Option<Summary> {
    let (first, last) = (points.first()?, points.last()?);
    let (low, high) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), (_, v)| {
            (lo.min(*v), hi.max(*v))
        });
    let change = last.1 - first.1;
    let trend = if change >= STEADY {
        Trend::Rising
    } else if change <= -STEADY {
        Trend::Falling
    } else {
        Trend::Steady
    };
    let minutes = ((last.0 - first.0) / 60_000.0).round().max(1.0) as u64;
    Some(Summary {
        low,
        high,
        change,
        trend,
        minutes,
    })
}

/// The sentence that says what the chart shows.
pub fn describe(summary: Option<&Summary>) -> String {
    let Some(s) = summary else {
        return "No readings in the last 30 minutes.".to_owned();
    };
    let how = match s.trend {
        Trend::Rising => format!("Getting warmer: up {:.1} °C", s.change),
        Trend::Falling => format!("Getting cooler: down {:.1} °C", -s.change),
        Trend::Steady => "Steady".to_owned(),
    };
    format!(
        "{how} over the last {} min, between {:.1} and {:.1} °C.",
        s.minutes, s.low, s.high
    )
}

#[component]
pub fn TemperatureCard(state: RwSignal<Snapshot>) -> impl IntoView {
    let clock = use_clock();
    let points = Memo::new(move |_| state.with(|s| in_window(&s.temperatures, clock.now_ms.get())));
    let summary = Memo::new(move |_| points.with(|p| summarize(p)));
    let chart =
        Memo::new(move |_| points.with(|p| plot(p, clock.now_ms.get(), clock.offset_min.get())));
    let value = move || {
        state.with(|s| {
            s.temperature()
                .map(|t| format!("{:.1}", t.temperature))
                .unwrap_or_else(|| "–".to_owned())
        })
    };
    let updated = Signal::derive(move || {
        state.with(|s| {
            s.temperature()
                .map(|t| t.updated_at.clone())
                .unwrap_or_default()
        })
    });
    let stat = move |f: fn(&Summary) -> f64| {
        move || {
            summary.with(|s| {
                s.as_ref()
                    .map(|s| format!("{:.1}", f(s)))
                    .unwrap_or_else(|| "–".into())
            })
        }
    };
    let trend = move || summary.with(|s| s.as_ref().map_or(Trend::Steady, |s| s.trend));
    let trend_word = move || match trend() {
        Trend::Rising => "rising",
        Trend::Falling => "falling",
        Trend::Steady => "steady",
    };
    let trend_arrow = move || match trend() {
        Trend::Rising => "↗",
        Trend::Falling => "↘",
        Trend::Steady => "→",
    };
    view! {
        <section class="card temperature" aria-labelledby="temperature-title">
            <div class="card-head">
                <h2 id="temperature-title">"Living room"</h2>
                <p class="muted">"Temperature · last 30 min"</p>
            </div>
            <div class="reading">
                <p class="big">
                    <span data-testid="temperature-value">{value}</span>
                    <span class="unit">" °C"</span>
                </p>
                <p class=move || format!("trend trend-{}", trend_word()) data-testid="temperature-trend">
                    <span aria-hidden="true">{trend_arrow}</span>
                    " "
                    {trend_word}
                </p>
                <dl class="stats">
                    <div>
                        <dt>"Low"</dt>
                        <dd data-testid="temperature-min">{stat(|s| s.low)} " °C"</dd>
                    </div>
                    <div>
                        <dt>"High"</dt>
                        <dd data-testid="temperature-max">{stat(|s| s.high)} " °C"</dd>
                    </div>
                    <div>
                        <dt>"Updated"</dt>
                        <dd>
                            <RelativeTime at=updated testid="temperature-updated" />
                        </dd>
                    </div>
                </dl>
            </div>
            <figure class="chart" data-testid="temperature-chart">
                <div class="chart-y" aria-hidden="true">
                    {move || {
                        chart
                            .with(|c| c.y_ticks.clone())
                            .into_iter()
                            .map(|(top, label)| {
                                view! {
                                    <span class="tick" data-testid="chart-y-label" style=format!("top:{top:.2}%")>
                                        {label}
                                    </span>
                                }
                            })
                            .collect_view()
                    }}
                </div>
                <div class="chart-plot" aria-hidden="true">
                    <svg viewBox=format!("0 0 {BOX} {BOX}") preserveAspectRatio="none" focusable="false">
                        <path class="gridline" d=move || chart.with(|c| grid_path(&c.y_ticks)) />
                        <polygon class="area" points=move || chart.with(|c| c.area.clone()) />
                        <polyline class="line" points=move || chart.with(|c| c.line.clone()) />
                    </svg>
                    {move || {
                        chart
                            .with(|c| c.last)
                            .map(|(left, top)| {
                                view! {
                                    <span class="chart-dot" style=format!("left:{left:.2}%;top:{top:.2}%")></span>
                                }
                            })
                    }}
                </div>
                <div class="chart-x" aria-hidden="true">
                    {move || {
                        chart
                            .with(|c| c.x_ticks.clone())
                            .into_iter()
                            .map(|(left, label)| {
                                // Labels at the edges are pulled inwards, so none hangs over the card.
                                let shift = if left > 92.0 { -100.0 } else if left < 8.0 { 0.0 } else { -50.0 };
                                view! {
                                    <span
                                        class="tick"
                                        data-testid="chart-x-label"
                                        style=format!("left:{left:.2}%;transform:translateX({shift}%)")
                                    >
                                        {label}
                                    </span>
                                }
                            })
                            .collect_view()
                    }}
                </div>
                <figcaption data-testid="temperature-summary">
                    {move || summary.with(|s| describe(s.as_ref()))}
                </figcaption>
            </figure>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const END: f64 = 1_795_255_445_000.0;

    fn readings(values: &[f64], every_ms: f64) -> Vec<(f64, f64)> {
        let n = values.len() as f64;
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (END - (n - 1.0 - i as f64) * every_ms, *v))
            .collect()
    }

    fn ys(plot: &Plot) -> Vec<f64> {
        plot.line
            .split(' ')
            .map(|p| p.split(',').nth(1).unwrap().parse().unwrap())
            .collect()
    }

    #[test]
    fn noise_within_a_fifth_of_a_degree_stays_nearly_flat() {
        let points = readings(&[21.0, 21.2, 21.0, 21.1, 21.2], 5_000.0);
        let p = plot(&points, END, 0);
        let ys = ys(&p);
        let extent = ys.iter().cloned().fold(f64::MIN, f64::max)
            - ys.iter().cloned().fold(f64::MAX, f64::min);
        assert!(
            extent <= 0.1 * BOX + 0.5,
            "a 0.2 °C wobble spans {extent} of {BOX}"
        );
        let (low, high, _) = value_axis(&points);
        assert!(high - low >= MIN_SPAN);
        assert!(low <= 21.0 && high >= 21.2);
    }

    #[test]
    fn a_real_swing_uses_the_height_and_gets_wider_ticks() {
        let points = readings(&[18.0, 20.0, 23.0], 600_000.0);
        let (low, high, step) = value_axis(&points);
        assert_eq!((low, high, step), (18.0, 23.0, 1.0));
        let p = plot(&points, END, 0);
        assert_eq!(p.y_ticks.first().map(|t| t.1.as_str()), Some("23.0°"));
        assert_eq!(p.y_ticks.len(), 6);
    }

    #[test]
    fn the_grid_has_a_line_across_the_box_at_each_value_tick() {
        let p = plot(&readings(&[18.0, 20.0, 23.0], 600_000.0), END, 0);
        let grid = grid_path(&p.y_ticks);
        assert_eq!(grid.matches('M').count(), p.y_ticks.len());
        assert!(grid.starts_with("M0,0.0H1000 "), "{grid}");
        assert!(grid.ends_with("M0,1000.0H1000"), "{grid}");
    }

    #[test]
    fn readings_are_placed_by_time_not_by_index() {
        // Two readings a minute apart end at the right edge, close together: not spread over the whole width.
        let points = readings(&[21.0, 21.0], 60_000.0);
        let p = plot(&points, END, 0);
        let xs: Vec<f64> = p
            .line
            .split(' ')
            .map(|q| q.split(',').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(xs[1], BOX);
        assert!((xs[1] - xs[0] - BOX / 30.0).abs() < 0.2);
    }

    #[test]
    fn time_ticks_fall_on_round_local_ten_minutes() {
        let p = plot(&[], END, 60);
        // END is 10:04:05 UTC, so the window runs 09:34..10:04 UTC, 10:34..11:04 local.
        let labels: Vec<&str> = p.x_ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["10:40", "10:50", "11:00"]);
        assert!(p
            .x_ticks
            .iter()
            .all(|(left, _)| (0.0..=100.0).contains(left)));
    }

    #[test]
    fn old_and_unreadable_readings_are_left_out() {
        let mut all = vec![
            Temperature {
                temperature: 30.0,
                updated_at: "2026-11-21T09:00:00Z".into(),
            },
            Temperature {
                temperature: 21.0,
                updated_at: "garbage".into(),
            },
        ];
        all.push(Temperature {
            temperature: 21.5,
            updated_at: "2026-11-21T10:04:00Z".into(),
        });
        assert_eq!(in_window(&all, END), vec![(END - 5_000.0, 21.5)]);
    }

    #[test]
    fn the_sentence_states_trend_and_range() {
        let rising = summarize(&readings(&[20.5, 20.9, 21.3], 300_000.0));
        assert_eq!(
            describe(rising.as_ref()),
            "Getting warmer: up 0.8 °C over the last 10 min, between 20.5 and 21.3 °C."
        );
        let steady = summarize(&readings(&[21.0, 21.1], 60_000.0));
        assert!(describe(steady.as_ref()).starts_with("Steady over the last 1 min"));
        assert_eq!(describe(None), "No readings in the last 30 minutes.");
    }
}
