//! Server-sent events in the browser: an EventSource whose named events feed callbacks, closed
//! when the owning view goes away. On the server (SSR) it does nothing.

use leptos::prelude::*;

#[cfg(feature = "hydrate")]
pub struct LiveStream {
    source: web_sys::EventSource,
    _callbacks: Vec<wasm_bindgen::closure::Closure<dyn FnMut(web_sys::MessageEvent)>>,
    _failed: wasm_bindgen::closure::Closure<dyn FnMut()>,
}

#[cfg(feature = "hydrate")]
impl Drop for LiveStream {
    fn drop(&mut self) {
        self.source.close();
    }
}

#[cfg(not(feature = "hydrate"))]
pub struct LiveStream;

/// Opens `url` and calls `on(event, data)` for each of `events`, and `on("failed", "")` when the
/// browser gives up on the stream (it was refused, or the console could not be reached); a
/// dropped connection the browser retries by itself is not a failure. Drop the handle to close it.
#[allow(unused_variables)]
pub fn open(
    url: &str,
    events: &[&'static str],
    on: impl Fn(&'static str, String) + Clone + 'static,
) -> Option<LiveStream> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let source = web_sys::EventSource::new(url).ok()?;
        let mut callbacks = Vec::new();
        for name in events {
            let on = on.clone();
            let name: &'static str = name;
            let callback = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                move |event: web_sys::MessageEvent| {
                    on(name, event.data().as_string().unwrap_or_default());
                },
            );
            source
                .add_event_listener_with_callback(name, callback.as_ref().unchecked_ref())
                .ok()?;
            callbacks.push(callback);
        }
        let failed = {
            let source = source.clone();
            wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
                if source.ready_state() == web_sys::EventSource::CLOSED {
                    on("failed", String::new());
                }
            })
        };
        source.set_onerror(Some(failed.as_ref().unchecked_ref()));
        Some(LiveStream { source, _callbacks: callbacks, _failed: failed })
    }
    #[cfg(not(feature = "hydrate"))]
    None
}

/// The browser's stream is bound to its thread; the server's placeholder may move between
/// threads (local storage there would panic when a worker thread cleans the view up).
#[cfg(feature = "hydrate")]
type SlotStorage = LocalStorage;
#[cfg(not(feature = "hydrate"))]
type SlotStorage = SyncStorage;

/// A slot for one open stream that closes it when replaced or when the view is cleaned up.
pub fn stream_slot() -> StoredValue<Option<LiveStream>, SlotStorage> {
    let slot = StoredValue::new_with_storage(None);
    on_cleanup(move || slot.set_value(None));
    slot
}
