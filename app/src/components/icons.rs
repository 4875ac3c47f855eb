//! Inline SVG icons. A device's icon changes shape with its state (a lit bulb has rays, closed blinds cover the
//! window), so the state reads without colour too. Icons are decorative (`aria-hidden`): the words carry the
//! meaning for screen readers.

use crate::contract::{Device, DeviceState};
use leptos::prelude::*;

/// The icon for `device` in `state`, following the state as it changes.
///
/// One `<svg>` whose shapes are set as markup: six typed views, one per icon, would each bring their own code to
/// build, update and hydrate, where one element with a changing `inner_html` needs that code once. The markup is
/// static and ours.
pub fn device_icon(
    device: Device,
    state: impl Fn() -> Option<DeviceState> + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <svg
            class="icon"
            viewBox="0 0 24 24"
            aria-hidden="true"
            focusable="false"
            inner_html=move || icon_shapes(device, state())
        ></svg>
    }
}

/// The shapes inside a device's icon.
fn icon_shapes(device: Device, state: Option<DeviceState>) -> &'static str {
    let on = matches!(state, Some(DeviceState::On | DeviceState::Open));
    match (device, on) {
        (Device::Lights, true) => concat!(
            r#"<path class="fill" d="M12 3a6 6 0 0 0-3.5 10.9V16h7v-2.1A6 6 0 0 0 12 3z"></path>"#,
            r#"<path class="stroke" d="M9.5 19h5M10 21.5h4M12 0.5v1M3.5 4l1 1M20.5 4l-1 1M1 11h1.5M21.5 11H23"></path>"#,
        ),
        (Device::Lights, false) => {
            r#"<path class="stroke" d="M12 3a6 6 0 0 0-3.5 10.9V16h7v-2.1A6 6 0 0 0 12 3zM9.5 19h5M10 21.5h4"></path>"#
        }
        (Device::Blinds, true) => concat!(
            r#"<rect class="stroke" x="3" y="3" width="18" height="18" rx="1"></rect>"#,
            r#"<path class="fill" d="M3 3h18v4H3z"></path>"#,
            r#"<path class="stroke" d="M12 7v3"></path>"#,
        ),
        (Device::Blinds, false) => concat!(
            r#"<rect class="stroke" x="3" y="3" width="18" height="18" rx="1"></rect>"#,
            r#"<path class="stroke" d="M3 7h18M3 11h18M3 15h18M3 19h18M12 19v2.5"></path>"#,
        ),
        (Device::Curtains, true) => concat!(
            r#"<path class="stroke" d="M2 3h20"></path>"#,
            r#"<path class="fill" d="M3 3h4c-.5 6 .5 12 1 18H3zM21 3h-4c.5 6-.5 12-1 18h5z"></path>"#,
        ),
        (Device::Curtains, false) => {
            r#"<path class="stroke" d="M2 3h20M3 3h9v18H3zM12 3h9v18h-9zM7 3v18M16.5 3v18"></path>"#
        }
    }
}

/// An eye, for the viewer count.
pub fn eye_icon() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
            <path class="stroke" d="M1.5 12S5.5 5 12 5s10.5 7 10.5 7-4 7-10.5 7S1.5 12 1.5 12z" />
            <circle class="stroke" cx="12" cy="12" r="3" />
        </svg>
    }
}

/// The house of Hearth's name.
pub fn logo() -> impl IntoView {
    view! {
        <svg class="logo" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
            <path d="M4 15 16 4l12 11v13H4z" fill="currentColor" />
            <path d="M13 28v-8h6v8" fill="var(--card)" />
        </svg>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_icon_changes_shape_with_its_state() {
        for device in [Device::Lights, Device::Blinds, Device::Curtains] {
            let (off, on) = (device.states()[0], device.states()[1]);
            assert_ne!(
                icon_shapes(device, Some(on)),
                icon_shapes(device, Some(off)),
                "{device:?}"
            );
            assert_eq!(
                icon_shapes(device, None),
                icon_shapes(device, Some(off)),
                "{device:?}"
            );
        }
    }

    #[test]
    fn the_server_renders_the_shapes_inside_the_svg() {
        let owner = Owner::new();
        let html = owner.with(|| {
            device_icon(Device::Blinds, || Some(DeviceState::Open))
                .into_view()
                .to_html()
        });
        assert!(
            html.starts_with("<svg ") && html.contains(r#"class="icon""#),
            "{html}"
        );
        assert!(
            html.contains(icon_shapes(Device::Blinds, Some(DeviceState::Open))),
            "{html}"
        );
    }
}
