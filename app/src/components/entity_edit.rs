//! Arranging the home from the dashboard: an "Edit home" switch (only for a browser that may write) turns every
//! entity row into a small form to rename the entity and move it to another area, saved with
//! `PATCH /api/entities/{id}`.
//!
//! What a person typed lives in page-wide maps keyed by entity id, not in the row: saving a rename reorders its
//! area and a move draws the entity in another card, and neither may throw away what is being typed in the
//! other rows. A save is "saving" until the stream has caught up with the event the answer named (as a switch's
//! command is), so the fields never flash back to the old name; then the draft goes, and the fields show the
//! entity as it now is. When the saved row was drawn anew in another card, the keyboard follows it there.

use super::icons::{entity_icon, IconFor};
use crate::contract::api::{paths, EditEntity, WrittenAs, MAX_NAME_CHARS};
use crate::contract::{AreaId, Entity, EntityId, Seq, Snapshot};
use crate::http::{self, ApiFailure};
use leptos::html;
use leptos::prelude::*;
use std::collections::HashMap;

/// The id of the page's list of area names, which every area field suggests from.
pub const AREA_NAMES_LIST: &str = "area-names";

/// What a person has typed into an entity's fields and not saved yet; a field left alone (`None`) shows the
/// entity as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    pub name: Option<String>,
    pub area: Option<String>,
}

/// The field a problem is about, so that field is the one marked invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Area,
}

/// Why a change was not saved, said under its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: Option<Field>,
    pub message: String,
}

impl Problem {
    fn of(field: Field, message: &str) -> Problem {
        Problem {
            field: Some(field),
            message: message.to_owned(),
        }
    }
}

/// The change `draft` asks of `entity`: only the fields that differ from what it shows (an area typed as the
/// name or id of the one it is in, in any case, is no move), trimmed as the server keeps them. `Ok(None)` when
/// nothing would change; an error the person can put right before anything is sent.
pub fn edit_request(entity: &Entity, draft: &Draft) -> Result<Option<EditEntity>, Problem> {
    let name = match draft.name.as_deref().map(str::trim) {
        Some("") => return Err(Problem::of(Field::Name, "A name cannot be empty.")),
        Some(name) if name.chars().count() > MAX_NAME_CHARS => {
            return Err(Problem::of(
                Field::Name,
                "A name can be 100 characters at most.",
            ))
        }
        Some(name) if name != entity.name => Some(name.to_owned()),
        _ => None,
    };
    let area = match draft.area.as_deref().map(str::trim) {
        Some("") => return Err(Problem::of(Field::Area, "Name the area to move it to.")),
        Some(area) if area.chars().count() > MAX_NAME_CHARS => {
            return Err(Problem::of(
                Field::Area,
                "An area's name can be 100 characters at most.",
            ))
        }
        Some(area) if AreaId::from_text(area).is_none() => {
            return Err(Problem::of(
                Field::Area,
                "An area's name needs at least one letter or digit.",
            ))
        }
        Some(area)
            if !area.eq_ignore_ascii_case(&entity.area_name) && area != entity.area.as_str() =>
        {
            Some(area.to_owned())
        }
        _ => None,
    };
    Ok((name.is_some() || area.is_some()).then_some(EditEntity { name, area }))
}

/// Drops the saves the stream has caught up with (its `seq` reached the event the answer named), and their
/// drafts: the entity itself now shows what was saved. Gives back the entities whose save settled.
pub fn settle(
    saving: &mut HashMap<EntityId, Option<Seq>>,
    drafts: &mut HashMap<EntityId, Draft>,
    seq: Seq,
) -> Vec<EntityId> {
    let mut settled = Vec::new();
    saving.retain(|id, answered| {
        let done = answered.is_some_and(|at| seq >= at);
        if done {
            drafts.remove(id);
            settled.push(id.clone());
        }
        !done
    });
    settled
}

/// What a settled save is announced as: where the entity now is, by the names it now has.
pub fn saved_notice(entity: &Entity) -> String {
    format!("Saved: {} is in {}.", entity.name, entity.area_name)
}

/// Edit mode, shared by the switch that turns it on and every row.
#[derive(Debug, Clone, Copy)]
pub struct EditState {
    /// Whether the person asked for edit mode (it shows only while the browser may write).
    pub on: RwSignal<bool>,
    pub drafts: RwSignal<HashMap<EntityId, Draft>>,
    /// Saves in flight (`None`) or answered with the event they became.
    pub saving: RwSignal<HashMap<EntityId, Option<Seq>>>,
    pub problems: RwSignal<HashMap<EntityId, Problem>>,
    /// The entity whose name field takes the keyboard once its save has settled, if the keyboard was lost.
    pub refocus: RwSignal<Option<EntityId>>,
    /// What the last save did, for everyone (a screen reader hears it; the move itself is silent).
    pub notice: RwSignal<String>,
}

impl EditState {
    pub fn new() -> EditState {
        EditState {
            on: RwSignal::new(false),
            drafts: RwSignal::new(HashMap::new()),
            saving: RwSignal::new(HashMap::new()),
            problems: RwSignal::new(HashMap::new()),
            refocus: RwSignal::new(None),
            notice: RwSignal::new(String::new()),
        }
    }

    /// Folds in how far the stream has got.
    pub fn catch_up(self, snapshot: &Snapshot) {
        if self.saving.with_untracked(HashMap::is_empty) {
            return;
        }
        let mut settled = Vec::new();
        self.saving.update(|saving| {
            self.drafts
                .update(|drafts| settled = settle(saving, drafts, snapshot.seq))
        });
        if let Some(entity) = settled.last().and_then(|id| snapshot.entity(id)) {
            self.notice.set(saved_notice(entity));
        }
    }
}

impl Default for EditState {
    fn default() -> Self {
        EditState::new()
    }
}

/// The bar above the area cards: the switch into and out of edit mode, and what edit mode is for.
#[component]
pub fn EditBar(edit: EditState, can_write: RwSignal<bool>, editing: Memo<bool>) -> impl IntoView {
    let toggle = move |_| {
        let leaving = edit.on.get_untracked();
        edit.on.set(!leaving);
        if leaving {
            edit.drafts.update(HashMap::clear);
            edit.problems.update(HashMap::clear);
        }
        edit.notice.set(String::new());
    };
    let hint = move || {
        let notice = edit.notice.get();
        if !notice.is_empty() {
            notice
        } else if editing.get() {
            "Rename a device or move it to another area; Save keeps it for everyone.".to_owned()
        } else {
            String::new()
        }
    };
    view! {
        <div class="home-bar" hidden=move || !can_write.get()>
            <p class="muted edit-hint" role="status">{hint}</p>
            <button
                type="button"
                class="button"
                class:primary=move || editing.get()
                data-testid="edit-home"
                on:click=toggle
            >
                {move || if editing.get() { "Done" } else { "Edit home" }}
            </button>
        </div>
    }
}

/// Whether the keyboard's focus has gone from the page (the element that had it was taken away).
fn focus_is_lost() -> bool {
    #[cfg(feature = "hydrate")]
    {
        let active = document().active_element();
        active.is_none() || active == document().body().map(Into::into)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        false
    }
}

/// One entity's form in edit mode: its name, its area (suggesting the home's areas), Save and Cancel, and what
/// went wrong under them. Enter saves, Escape puts the fields back.
#[component]
pub fn EntityEditor(
    id: EntityId,
    entity: Memo<Option<Entity>>,
    state: RwSignal<Snapshot>,
    edit: EditState,
    icon: IconFor,
) -> impl IntoView {
    let key = id.clone();
    let draft = Memo::new(move |_| {
        edit.drafts
            .with(|d| d.get(&key).cloned().unwrap_or_default())
    });
    let key = id.clone();
    let problem = Memo::new(move |_| edit.problems.with(|p| p.get(&key).cloned()));
    let key = id.clone();
    let saving = Memo::new(move |_| edit.saving.with(|s| s.contains_key(&key)));
    let request = Memo::new(move |_| {
        entity.with(|e| {
            e.as_ref()
                .map(|e| draft.with(|d| edit_request(e, d)))
                .unwrap_or(Ok(None))
        })
    });
    let changed = move || !matches!(request.get(), Ok(None));
    let name = move || {
        draft
            .with(|d| d.name.clone())
            .or_else(|| entity.with(|e| e.as_ref().map(|e| e.name.clone())))
            .unwrap_or_default()
    };
    let area = move || {
        draft
            .with(|d| d.area.clone())
            .or_else(|| entity.with(|e| e.as_ref().map(|e| e.area_name.clone())))
            .unwrap_or_default()
    };
    let title = move || entity.with(|e| e.as_ref().map(|e| e.name.clone()).unwrap_or_default());
    let invalid = move |field: Field| {
        move || {
            if problem.with(|p| p.as_ref().is_some_and(|p| p.field == Some(field))) {
                "true"
            } else {
                "false"
            }
        }
    };

    let key = id.clone();
    let type_into = move |field: Field, value: String| {
        edit.drafts.update(|d| {
            let draft = d.entry(key.clone()).or_default();
            match field {
                Field::Name => draft.name = Some(value),
                Field::Area => draft.area = Some(value),
            }
        });
    };
    let on_name = {
        let type_into = type_into.clone();
        move |ev| type_into(Field::Name, event_target_value(&ev))
    };
    let on_area = move |ev| type_into(Field::Area, event_target_value(&ev));

    let key = id.clone();
    let cancel = move || {
        if saving.get_untracked() {
            return;
        }
        edit.drafts.update(|d| {
            d.remove(&key);
        });
        edit.problems.update(|p| {
            p.remove(&key);
        });
    };
    let key = id.clone();
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if saving.get_untracked() {
            return;
        }
        let body = match request.get_untracked() {
            Ok(Some(body)) => body,
            Ok(None) => return,
            Err(problem) => {
                edit.problems.update(|p| {
                    p.insert(key.clone(), problem);
                });
                return;
            }
        };
        let key = key.clone();
        edit.problems.update(|p| {
            p.remove(&key);
        });
        edit.saving.update(|s| {
            s.insert(key.clone(), None);
        });
        leptos::task::spawn_local(async move {
            // The answer is the entity as saved (`EntityEdited`); the stream brings it too, so only its event id
            // is read here.
            let result: Result<WrittenAs, ApiFailure> =
                http::patch_json(&paths::entity(&key), &body).await;
            match result {
                Ok(WrittenAs { seq }) => {
                    edit.saving.update(|s| {
                        s.insert(key.clone(), Some(seq));
                    });
                    edit.refocus.set(Some(key));
                }
                Err(e) => {
                    edit.saving.update(|s| {
                        s.remove(&key);
                    });
                    edit.problems.update(|p| {
                        p.insert(
                            key,
                            Problem {
                                field: None,
                                message: format!("Not saved: {e}"),
                            },
                        );
                    });
                }
            }
            state.with_untracked(|s| edit.catch_up(s));
        });
    };

    // A save that moved the entity drew it anew in another card, and the keyboard was on the old one.
    let name_input = NodeRef::<html::Input>::new();
    let key = id.clone();
    Effect::new(move |_| {
        let wanted = edit.refocus.with(|r| r.as_ref() == Some(&key));
        if !wanted || saving.get() {
            return;
        }
        if let Some(input) = name_input.get() {
            if focus_is_lost() {
                let _ = input.focus();
            }
            edit.refocus.set(None);
        }
    });

    let cancel_click = cancel.clone();
    let name_field = format!("edit-name-{id}");
    let area_field = format!("edit-area-{id}");
    let error_id = format!("edit-error-{id}");
    let busy = move || if saving.get() { "true" } else { "false" };
    // Save and Cancel show once there is something to save (or being saved, or refused): twelve rows of
    // buttons that do nothing would bury the fields.
    let quiet = move || !changed() && !saving.get() && problem.with(Option::is_none);
    view! {
        <form
            class="edit-row"
            on:submit=save
            on:keydown=move |ev| {
                if ev.key() == "Escape" {
                    cancel();
                }
            }
            aria-busy=busy
        >
            <fieldset>
                <legend class="sr-only">"Edit " {title}</legend>
                <span class="device-icon">{entity_icon(icon, || false)}</span>
                <div class="edit-fields">
                    <label class="field">
                        <span>"Name"</span>
                        <input
                            type="text"
                            id=name_field.clone()
                            data-testid=name_field
                            maxlength=MAX_NAME_CHARS.to_string()
                            autocomplete="off"
                            node_ref=name_input
                            prop:value=name
                            on:input=on_name
                            aria-invalid=invalid(Field::Name)
                            aria-describedby=error_id.clone()
                        />
                    </label>
                    <label class="field">
                        <span>"Area"</span>
                        <input
                            type="text"
                            id=area_field.clone()
                            data-testid=area_field
                            list=AREA_NAMES_LIST
                            maxlength=MAX_NAME_CHARS.to_string()
                            autocomplete="off"
                            prop:value=area
                            on:input=on_area
                            aria-invalid=invalid(Field::Area)
                            aria-describedby=error_id.clone()
                        />
                    </label>
                    <div class="edit-actions" hidden=quiet>
                        <span class="muted small" hidden=move || !saving.get()>"Saving…"</span>
                        <button
                            type="button"
                            class="button"
                            data-testid=format!("edit-cancel-{id}")
                            on:click=move |_| cancel_click()
                        >
                            "Cancel"
                        </button>
                        <button
                            type="submit"
                            class="button primary"
                            data-testid=format!("edit-save-{id}")
                            aria-disabled=busy
                        >
                            "Save"
                        </button>
                    </div>
                    <p class="form-error" id=error_id.clone() data-testid=error_id role="alert">
                        {move || problem.get().map(|p| p.message).unwrap_or_default()}
                    </p>
                </div>
            </fieldset>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Device, DeviceState, Room};

    fn lights() -> Entity {
        Room::Kitchen.entity(Device::Lights, DeviceState::Off, "t".into())
    }

    fn draft(name: Option<&str>, area: Option<&str>) -> Draft {
        Draft {
            name: name.map(str::to_owned),
            area: area.map(str::to_owned),
        }
    }

    #[test]
    fn only_what_differs_is_sent_trimmed() {
        let entity = lights();
        assert_eq!(edit_request(&entity, &Draft::default()), Ok(None));
        assert_eq!(
            edit_request(&entity, &draft(Some(" Lights "), Some("kitchen"))),
            Ok(None),
            "the same name, and the area it is in by its id"
        );
        assert_eq!(
            edit_request(&entity, &draft(None, Some("KITCHEN "))),
            Ok(None),
            "the area it is in by its name, in another case"
        );
        assert_eq!(
            edit_request(&entity, &draft(Some(" Ceiling "), Some("Kitchen"))),
            Ok(Some(EditEntity {
                name: Some("Ceiling".into()),
                area: None
            }))
        );
        assert_eq!(
            edit_request(&entity, &draft(None, Some(" Garden shed"))),
            Ok(Some(EditEntity {
                name: None,
                area: Some("Garden shed".into())
            }))
        );
    }

    #[test]
    fn what_the_server_would_refuse_is_said_at_once_on_its_field() {
        let entity = lights();
        let field = |d: Draft| edit_request(&entity, &d).map_err(|p| p.field);
        assert_eq!(field(draft(Some("  "), None)), Err(Some(Field::Name)));
        let long = "x".repeat(MAX_NAME_CHARS + 1);
        assert_eq!(field(draft(Some(&long), None)), Err(Some(Field::Name)));
        assert_eq!(field(draft(None, Some(""))), Err(Some(Field::Area)));
        assert_eq!(field(draft(None, Some("!!"))), Err(Some(Field::Area)));
        assert_eq!(field(draft(None, Some(&long))), Err(Some(Field::Area)));
        let exactly = "x".repeat(MAX_NAME_CHARS);
        assert!(field(draft(Some(&exactly), Some(&exactly))).is_ok());
    }

    #[test]
    fn a_save_settles_once_the_stream_reaches_its_event_and_takes_its_draft_along() {
        let (lamp, door) = (
            EntityId::parse("lamp").unwrap(),
            EntityId::parse("door").unwrap(),
        );
        let mut saving = HashMap::from([(lamp.clone(), Some(12)), (door.clone(), None)]);
        let mut drafts = HashMap::from([
            (lamp.clone(), draft(Some("Desk"), None)),
            (door.clone(), draft(None, Some("Hall"))),
        ]);
        assert!(settle(&mut saving, &mut drafts, 11).is_empty());
        assert_eq!((saving.len(), drafts.len()), (2, 2), "not there yet");
        assert_eq!(settle(&mut saving, &mut drafts, 12), [lamp]);
        assert_eq!(
            saving.keys().collect::<Vec<_>>(),
            [&door],
            "in flight: kept"
        );
        assert_eq!(drafts.keys().collect::<Vec<_>>(), [&door]);
        assert_eq!(saved_notice(&lights()), "Saved: Lights is in Kitchen.");
    }
}
