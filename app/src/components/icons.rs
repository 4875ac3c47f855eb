//! Inline SVG icons. A device's icon changes shape with its state (a lit bulb has rays, closed blinds cover the
//! window), so the state reads without colour too. Icons are decorative (`aria-hidden`): the words carry the
//! meaning for screen readers.

use crate::contract::EntityKind;
use leptos::prelude::*;

/// What an icon is drawn for: the entity's kind and device class (a blind and a curtain are both covers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IconFor {
    pub kind: EntityKind,
    pub device_class: Option<String>,
}

/// The icon for an entity, following whether it is "on" (lit, open, detecting) as that changes.
///
/// One `<svg>` whose shapes are set as markup: a typed view per icon would each bring their own code to build,
/// update and hydrate, where one element with a changing `inner_html` needs that code once. The markup is
/// static and ours.
pub fn entity_icon(for_: IconFor, on: impl Fn() -> bool + Send + Sync + 'static) -> impl IntoView {
    view! {
        <svg
            class="icon"
            viewBox="0 0 24 24"
            aria-hidden="true"
            focusable="false"
            inner_html=move || icon_shapes(&for_, on())
        ></svg>
    }
}

/// The shapes inside an entity's icon.
fn icon_shapes(for_: &IconFor, on: bool) -> &'static str {
    let class = for_.device_class.as_deref();
    match (for_.kind, class, on) {
        (EntityKind::Light, _, true) => concat!(
            r#"<path class="fill" d="M12 3a6 6 0 0 0-3.5 10.9V16h7v-2.1A6 6 0 0 0 12 3z"></path>"#,
            r#"<path class="stroke" d="M9.5 19h5M10 21.5h4M12 0.5v1M3.5 4l1 1M20.5 4l-1 1M1 11h1.5M21.5 11H23"></path>"#,
        ),
        (EntityKind::Light, _, false) => {
            r#"<path class="stroke" d="M12 3a6 6 0 0 0-3.5 10.9V16h7v-2.1A6 6 0 0 0 12 3zM9.5 19h5M10 21.5h4"></path>"#
        }
        (EntityKind::Cover, Some("curtain"), true) => concat!(
            r#"<path class="stroke" d="M2 3h20"></path>"#,
            r#"<path class="fill" d="M3 3h4c-.5 6 .5 12 1 18H3zM21 3h-4c.5 6-.5 12-1 18h5z"></path>"#,
        ),
        (EntityKind::Cover, Some("curtain"), false) => {
            r#"<path class="stroke" d="M2 3h20M3 3h9v18H3zM12 3h9v18h-9zM7 3v18M16.5 3v18"></path>"#
        }
        (EntityKind::Cover, _, true) => concat!(
            r#"<rect class="stroke" x="3" y="3" width="18" height="18" rx="1"></rect>"#,
            r#"<path class="fill" d="M3 3h18v4H3z"></path>"#,
            r#"<path class="stroke" d="M12 7v3"></path>"#,
        ),
        (EntityKind::Cover, _, false) => concat!(
            r#"<rect class="stroke" x="3" y="3" width="18" height="18" rx="1"></rect>"#,
            r#"<path class="stroke" d="M3 7h18M3 11h18M3 15h18M3 19h18M12 19v2.5"></path>"#,
        ),
        (EntityKind::Switch, _, true) => concat!(
            r#"<rect class="fill" x="4" y="2.5" width="16" height="19" rx="3"></rect>"#,
            r#"<path class="stroke cut" d="M9 8v3M15 8v3M9.5 15.5h5"></path>"#,
        ),
        (EntityKind::Switch, _, false) => {
            r#"<rect class="stroke" x="4" y="2.5" width="16" height="19" rx="3"></rect><path class="stroke" d="M9 8v3M15 8v3M9.5 15.5h5"></path>"#
        }
        (EntityKind::BinarySensor, Some("door" | "window" | "garage_door" | "opening"), true) => {
            concat!(
                r#"<path class="stroke" d="M4 21.5h16M6 21.5V2.5h12v19"></path>"#,
                r#"<path class="fill" d="M6 2.5l7 2.5v18.5L6 21.5z"></path>"#,
            )
        }
        (EntityKind::BinarySensor, Some("door" | "window" | "garage_door" | "opening"), false) => {
            r#"<path class="stroke" d="M4 21.5h16M6 21.5V2.5h12v19M14.5 12h1"></path>"#
        }
        (EntityKind::BinarySensor, _, true) => concat!(
            r#"<circle class="fill" cx="12" cy="12" r="4.5"></circle>"#,
            r#"<path class="stroke" d="M5 5a10 10 0 0 0 0 14M19 5a10 10 0 0 1 0 14M8 8a5.5 5.5 0 0 0 0 8M16 8a5.5 5.5 0 0 1 0 8"></path>"#,
        ),
        (EntityKind::BinarySensor, _, false) => {
            r#"<circle class="stroke" cx="12" cy="12" r="4.5"></circle>"#
        }
        (EntityKind::Sensor, _, _) => concat!(
            r#"<path class="stroke" d="M3.5 17a9 9 0 1 1 17 0"></path>"#,
            r#"<path class="stroke" d="M12 15l4-6"></path><circle class="fill" cx="12" cy="15" r="1.6"></circle>"#,
        ),
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

    fn icon(kind: EntityKind, class: Option<&str>) -> IconFor {
        IconFor {
            kind,
            device_class: class.map(str::to_owned),
        }
    }

    #[test]
    fn an_entity_icon_changes_shape_with_its_state() {
        for for_ in [
            icon(EntityKind::Light, None),
            icon(EntityKind::Switch, None),
            icon(EntityKind::Cover, Some("blind")),
            icon(EntityKind::Cover, Some("curtain")),
            icon(EntityKind::BinarySensor, Some("door")),
            icon(EntityKind::BinarySensor, Some("motion")),
        ] {
            assert_ne!(
                icon_shapes(&for_, true),
                icon_shapes(&for_, false),
                "{for_:?}"
            );
        }
        assert_ne!(
            icon_shapes(&icon(EntityKind::Cover, Some("curtain")), true),
            icon_shapes(&icon(EntityKind::Cover, Some("blind")), true),
            "a curtain is not a blind"
        );
    }

    #[test]
    fn the_server_renders_the_shapes_inside_the_svg() {
        let owner = Owner::new();
        let for_ = icon(EntityKind::Cover, Some("blind"));
        let expected = icon_shapes(&for_, true);
        let html = owner.with(|| entity_icon(for_, || true).into_view().to_html());
        assert!(
            html.starts_with("<svg ") && html.contains(r#"class="icon""#),
            "{html}"
        );
        assert!(html.contains(expected), "{html}");
    }
}
