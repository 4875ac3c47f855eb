//! The front-door camera's snapshots: an event says *where* the new image is, never what is in it.
//!
//! Binary data does not belong in an SSE stream: base64 makes it a third larger, every subscriber receives it
//! whether it shows it or not, and nothing caches it. So a [`CameraShot`] carries only the image's URL and when
//! it was taken; the browser fetches the image like any other, with HTTP caching and compression. The URL has
//! the shot's event id in it, so it never names two different images: the server can serve it as immutable.
//!
//! Durability: the camera topic is journaled like the rooms. The latest shots are part of the snapshot, the
//! image route answers from them, and a client that resumes after a restart must still find the image its last
//! event pointed at; an ephemeral topic would leave the card pointing at a URL the server no longer knows.

use serde::{Deserialize, Serialize};

/// Where the camera's images are served: `/camera/front-door/<event id>.svg`.
pub const CAMERA_PATH: &str = "/camera/front-door";
/// The file suffix of a camera image (the server draws SVG).
const SUFFIX: &str = ".svg";

/// One snapshot of the front-door camera: `{"url": "/camera/front-door/<id>.svg", "takenAt": "<RFC 3339>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameraShot {
    pub url: String,
    #[serde(rename = "takenAt")]
    pub taken_at: String,
}

impl CameraShot {
    /// The shot whose image is event `id`'s.
    pub fn new(id: u64, taken_at: String) -> Self {
        CameraShot {
            url: format!("{CAMERA_PATH}/{id}{SUFFIX}"),
            taken_at,
        }
    }

    /// The id in this shot's URL, if the URL is one of ours.
    pub fn id(&self) -> Option<u64> {
        self.url
            .strip_prefix(CAMERA_PATH)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(parse_image_file)
    }
}

/// Parses the last segment of an image URL, `<id>.svg`, into the id: ASCII digits only, no sign, no spaces, no
/// leading zero (so one id has exactly one URL).
pub fn parse_image_file(file: &str) -> Option<u64> {
    let digits = file.strip_suffix(SUFFIX)?;
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if !canonical {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shot_carries_its_id_in_its_url_and_gets_it_back() {
        let shot = CameraShot::new(1_732_000_000_123, "2026-11-21T10:00:00.000Z".into());
        assert_eq!(shot.url, "/camera/front-door/1732000000123.svg");
        assert_eq!(shot.id(), Some(1_732_000_000_123));
        let json = serde_json::to_string(&shot).unwrap();
        assert_eq!(
            json,
            r#"{"url":"/camera/front-door/1732000000123.svg","takenAt":"2026-11-21T10:00:00.000Z"}"#
        );
    }

    #[test]
    fn only_canonical_file_names_parse() {
        assert_eq!(parse_image_file("42.svg"), Some(42));
        for bad in [
            "42",
            "42.png",
            ".svg",
            "-1.svg",
            "+1.svg",
            "042.svg",
            "4 2.svg",
            "1e3.svg",
            "99999999999999999999999.svg",
            "42.svg.svg",
        ] {
            assert_eq!(parse_image_file(bad), None, "{bad}");
        }
    }
}
