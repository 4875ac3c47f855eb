//! The demo front-door camera: draws its snapshots, as SVG, on the server.
//!
//! An image is a pure function of the shot (its id and when it was taken): the same URL always gets the same
//! bytes, before and after a restart, which is what lets the image route call it immutable. Nothing is fetched
//! from elsewhere and nothing is stored but the shot itself (in the snapshot): the picture is redrawn on demand,
//! and browsers keep it for a year.
//!
//! The scene varies the way a real porch camera's would: daylight follows the hour it was taken, the porch light
//! is on at night, and now and then a parcel waits on the step or the neighbour's cat sits by the door.

use std::fmt::Write as _;

/// The image's size in pixels (16:9, as camera cards expect).
pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 360;

/// A small deterministic generator (splitmix64): the same id always draws the same scene.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// The hour of day (0..24) of an RFC 3339 timestamp, UTC as the server writes them; noon when unreadable.
fn hour_of(taken_at: &str) -> u32 {
    taken_at
        .get(11..13)
        .and_then(|h| h.parse().ok())
        .filter(|h| *h < 24)
        .unwrap_or(12)
}

/// `2026-11-21 10:04:05` out of an RFC 3339 timestamp, for the camera's own overlay.
fn overlay_time(taken_at: &str) -> String {
    match (taken_at.get(0..10), taken_at.get(11..19)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => String::new(),
    }
}

/// Escapes text for an SVG text node.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Draws shot `id`, taken at `taken_at` (RFC 3339).
pub fn draw(id: u64, taken_at: &str) -> String {
    let mut dice = Dice(id);
    let hour = hour_of(taken_at);
    let night = !(7..19).contains(&hour);
    let (sky, wall, shade) = if night {
        ("#1b2236", "#3a3833", "#24221f")
    } else if (7..9).contains(&hour) || (17..19).contains(&hour) {
        ("#f0b27a", "#c9b79c", "#9c8b73")
    } else {
        ("#9cc9e8", "#e6d8c0", "#b8a68a")
    };
    let doors = ["#2f5d50", "#7a2e2e", "#2c4a7a", "#3b3b3b"];
    let door = doors[(dice.next() % doors.len() as u64) as usize];
    let parcel = dice.chance(35);
    let cat = dice.chance(20);
    let leaves = dice.next() % 5;

    let mut svg = String::with_capacity(4096);
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="Front door, {time}">"##,
        time = escape(&overlay_time(taken_at)),
    );
    // Sky and the path, then the house front with its door.
    let _ = write!(svg, r##"<rect width="640" height="360" fill="{sky}"/>"##);
    let _ = write!(
        svg,
        r##"<polygon points="0,360 640,360 470,300 170,300" fill="#8d8a83"/>"##
    );
    let _ = write!(
        svg,
        r##"<rect x="60" y="20" width="520" height="282" fill="{wall}"/>"##
    );
    let _ = write!(
        svg,
        r##"<rect x="60" y="20" width="520" height="18" fill="{shade}"/>"##
    );
    let _ = write!(
        svg,
        r##"<rect x="240" y="80" width="160" height="220" fill="{shade}"/>"##
    );
    let _ = write!(
        svg,
        r##"<rect x="252" y="90" width="136" height="210" fill="{door}"/>"##
    );
    let _ = write!(
        svg,
        r##"<rect x="272" y="108" width="96" height="52" rx="4" fill="#d8e6ef" opacity="{}"/>"##,
        if night { "0.35" } else { "0.8" }
    );
    let _ = write!(
        svg,
        r##"<rect x="272" y="180" width="40" height="96" rx="3" fill="none" stroke="#000" stroke-opacity="0.25" stroke-width="3"/>"##
    );
    let _ = write!(
        svg,
        r##"<rect x="328" y="180" width="40" height="96" rx="3" fill="none" stroke="#000" stroke-opacity="0.25" stroke-width="3"/>"##
    );
    let _ = write!(svg, r##"<circle cx="372" cy="204" r="6" fill="#d4af37"/>"##);
    let _ = write!(
        svg,
        r##"<rect x="220" y="296" width="200" height="14" fill="#6f6b64"/>"##
    );
    let _ = write!(
        svg,
        r##"<text x="420" y="110" font-family="sans-serif" font-size="26" font-weight="700" fill="{door}">12</text>"##
    );
    // The porch lamp, lit at night.
    let _ = write!(
        svg,
        r##"<rect x="206" y="96" width="18" height="30" rx="4" fill="#2b2b2b"/>"##
    );
    if night {
        let _ = write!(
            svg,
            r##"<circle cx="215" cy="112" r="70" fill="#ffd98a" opacity="0.25"/><circle cx="215" cy="112" r="9" fill="#ffe7a8"/>"##
        );
    } else {
        let _ = write!(svg, r##"<circle cx="215" cy="112" r="7" fill="#bdb6a5"/>"##);
    }
    // A potted plant by the door.
    let _ = write!(
        svg,
        r##"<polygon points="448,300 488,300 482,262 454,262" fill="#a0522d"/><circle cx="468" cy="246" r="24" fill="#3f7d3a"/><circle cx="452" cy="236" r="14" fill="#4f9447"/><circle cx="486" cy="236" r="14" fill="#4f9447"/>"##
    );
    if parcel {
        let _ = write!(
            svg,
            r##"<rect x="282" y="262" width="62" height="40" fill="#c8965a"/><rect x="308" y="262" width="10" height="40" fill="#e8d3a8"/>"##
        );
    }
    if cat {
        let _ = write!(
            svg,
            r##"<g fill="#222"><ellipse cx="186" cy="284" rx="22" ry="16"/><circle cx="172" cy="262" r="11"/><polygon points="163,256 166,244 172,253"/><polygon points="174,253 180,244 182,256"/><path d="M206 290 q18 -4 14 -26" stroke="#222" stroke-width="5" fill="none"/></g>"##
        );
    }
    for _ in 0..leaves {
        let x = 20 + dice.next() % 600;
        let y = 312 + dice.next() % 40;
        let _ = write!(
            svg,
            r##"<ellipse cx="{x}" cy="{y}" rx="7" ry="3" fill="#b5651d" opacity="0.8"/>"##
        );
    }
    // The camera's own overlay: where, when, which frame.
    let _ = write!(
        svg,
        r##"<rect width="640" height="30" fill="#000" opacity="0.55"/>"##
    );
    let _ = write!(
        svg,
        r##"<text x="12" y="20" font-family="monospace" font-size="15" fill="#fff">FRONT DOOR</text><text x="628" y="20" font-family="monospace" font-size="15" fill="#fff" text-anchor="end">{}</text>"##,
        escape(&overlay_time(taken_at))
    );
    let _ = write!(
        svg,
        r##"<text x="628" y="350" font-family="monospace" font-size="12" fill="#fff" fill-opacity="0.8" text-anchor="end">#{id}</text></svg>"##
    );
    svg
}

/// A strong validator for the drawn bytes (FNV-1a, 64 bits): stable across runs and builds of the same drawing
/// code, and different when the drawing changes.
pub fn etag(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("\"{hash:016x}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_shot_draws_the_same_bytes() {
        let a = draw(42, "2026-11-21T22:00:00.000Z");
        assert_eq!(a, draw(42, "2026-11-21T22:00:00.000Z"));
        assert_eq!(
            etag(a.as_bytes()),
            etag(draw(42, "2026-11-21T22:00:00.000Z").as_bytes())
        );
        assert_ne!(
            a,
            draw(42, "2026-11-21T12:00:00.000Z"),
            "day and night differ"
        );
        assert!(a.starts_with("<svg") && a.ends_with("</svg>"));
        assert!(a.contains("2026-11-21 22:00:00 UTC"));
    }

    #[test]
    fn a_bad_timestamp_still_draws_a_valid_image() {
        let svg = draw(1, "<not a time>");
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("<not"));
    }

    #[test]
    fn etags_are_quoted_and_tell_bytes_apart() {
        assert_eq!(etag(b"a").len(), 18);
        assert_ne!(etag(b"a"), etag(b"b"));
    }
}
