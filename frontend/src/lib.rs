//! The WASM entry point. Its only job is to hydrate the page the server rendered; everything else
//! lives in `app`, shared with the server.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
