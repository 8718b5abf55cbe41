//! The REPL's SQL editor: a plain textarea (so typing, undo, selection and screen readers work as
//! everywhere) over a highlighted copy of its text, completion of tables, columns and keywords
//! from the replica's schema (masked columns marked), and the error position marked. No editor
//! library: the tokenizer and completion are `console_core::query::editor`, a few KB of wasm.

use console_core::query::editor::{self as sql_editor, Completion, TokenKind};
use leptos::prelude::*;

/// Most completions offered at once.
const SHOWN: usize = 8;

/// The byte offset of UTF-16 position `units` in `text` (the DOM counts in UTF-16).
fn byte_offset(text: &str, units: u32) -> usize {
    let mut seen = 0u32;
    for (i, c) in text.char_indices() {
        if seen >= units {
            return i;
        }
        seen += c.len_utf16() as u32;
    }
    text.len()
}

fn utf16_len(text: &str) -> u32 {
    text.encode_utf16().count() as u32
}

/// Puts `text` at the caret of `area` (replacing a selection) and the caret after it: the schema
/// panel's names go in where the person is typing.
pub fn insert_at_caret(area: NodeRef<leptos::html::Textarea>, sql: RwSignal<String>, text: &str) {
    let current = sql.get_untracked();
    let (start, end) = match area.get_untracked() {
        Some(a) => (
            byte_offset(&current, a.selection_start().ok().flatten().unwrap_or(0)),
            byte_offset(&current, a.selection_end().ok().flatten().unwrap_or(0)),
        ),
        None => (current.len(), current.len()),
    };
    let updated = format!("{}{text}{}", &current[..start], &current[end.max(start)..]);
    let caret = utf16_len(&updated[..start + text.len()]);
    sql.set(updated);
    if let Some(a) = area.get_untracked() {
        let _ = a.focus();
        let _ = a.set_selection_range(caret, caret);
    }
}

#[component]
pub fn SqlEditor(
    sql: RwSignal<String>,
    /// The textarea, for the schema panel's inserts.
    area: NodeRef<leptos::html::Textarea>,
    #[prop(into)] tables: Signal<Vec<(String, Vec<String>)>>,
    #[prop(into)] masks: Signal<Vec<String>>,
    /// Line and column (1-based) the last refusal points at.
    #[prop(into)]
    error_at: Signal<Option<(usize, usize)>>,
    on_run: Callback<()>,
) -> impl IntoView {
    let shown = NodeRef::<leptos::html::Pre>::new();
    let suggestions = RwSignal::new(Vec::<Completion>::new());
    let active = RwSignal::new(0usize);
    // Byte range of the word the suggestions would replace.
    let replacing = RwSignal::new((0usize, 0usize));

    let suggest = move || {
        let Some(a) = area.get_untracked() else { return };
        let text = sql.get_untracked();
        let caret = byte_offset(&text, a.selection_start().ok().flatten().unwrap_or(0));
        let (start, word) = sql_editor::word_at(&text, caret);
        let found = tables
            .with_untracked(|t| masks.with_untracked(|m| sql_editor::complete(word, t, m, SHOWN)));
        // After `table.`, only the part after the dot is replaced.
        let from = word.rfind('.').map_or(start, |dot| start + dot + 1);
        replacing.set((from, caret));
        active.set(0);
        suggestions.set(found);
    };
    let accept = move |index: usize| {
        let Some(choice) = suggestions.with_untracked(|s| s.get(index).cloned()) else { return };
        let (from, to) = replacing.get_untracked();
        let text = sql.get_untracked();
        if to > text.len() || from > to {
            return;
        }
        let updated = format!("{}{}{}", &text[..from], choice.text, &text[to..]);
        let caret = utf16_len(&updated[..from + choice.text.len()]);
        sql.set(updated);
        suggestions.set(vec![]);
        if let Some(a) = area.get_untracked() {
            let _ = a.set_selection_range(caret, caret);
        }
    };
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Enter" && (ev.ctrl_key() || ev.meta_key()) {
            ev.prevent_default();
            suggestions.set(vec![]);
            on_run.run(());
            return;
        }
        let open = suggestions.with_untracked(|s| s.len());
        if open == 0 {
            return;
        }
        match ev.key().as_str() {
            "ArrowDown" => {
                ev.prevent_default();
                active.update(|i| *i = (*i + 1) % open);
            }
            "ArrowUp" => {
                ev.prevent_default();
                active.update(|i| *i = (*i + open - 1) % open);
            }
            "Tab" | "Enter" => {
                ev.prevent_default();
                accept(active.get_untracked());
            }
            "Escape" => suggestions.set(vec![]),
            _ => {}
        }
    };
    let sync_scroll = move |_| {
        if let (Some(a), Some(p)) = (area.get_untracked(), shown.get_untracked()) {
            p.set_scroll_top(a.scroll_top());
            p.set_scroll_left(a.scroll_left());
        }
    };
    let highlighted = move || {
        let text = sql.get();
        let fault = error_at.get().and_then(|(l, c)| sql_editor::offset_of(&text, l, c));
        let mut spans: Vec<AnyView> = sql_editor::tokens(&text)
            .into_iter()
            .map(|t| {
                let at_fault = fault.is_some_and(|f| f >= t.start && f < t.start + t.text.len())
                    && t.kind != TokenKind::Space;
                let class = if at_fault {
                    format!("{} underline decoration-wavy decoration-red-600", t.kind.class())
                } else {
                    t.kind.class().to_string()
                };
                view! { <span class=class data-fault=at_fault.then_some("true")>{t.text.to_string()}</span> }.into_any()
            })
            .collect();
        // A fault past the end (a statement cut short) is marked after the last character.
        if fault.is_some_and(|f| f >= text.len()) {
            spans.push(
                view! { <span class="bg-red-200 dark:bg-red-900" data-fault="true">" "</span> }
                    .into_any(),
            );
        }
        // The textarea shows a last empty line; so must its copy.
        spans.push(view! { <span>" "</span> }.into_any());
        spans
    };
    let layer = "m-0 p-2 font-mono text-sm leading-5 whitespace-pre";
    view! {
        // The completions float over the editor's right side: a list in the page's flow would
        // move the Run button away between a press and its release.
        <div class="relative h-40 w-full rounded border border-slate-300 bg-white dark:border-slate-600 dark:bg-slate-900">
            <pre node_ref=shown aria-hidden="true" class=format!("{layer} pointer-events-none absolute inset-0 overflow-hidden text-slate-900 dark:text-slate-100")>{highlighted}</pre>
            <textarea
                node_ref=area
                class=format!("{layer} absolute inset-0 h-full w-full resize-none overflow-auto bg-transparent text-transparent caret-slate-900 outline-none focus:ring-2 focus:ring-sky-600 dark:caret-white")
                aria-label="SQL"
                aria-autocomplete="list"
                aria-controls="sql-completions"
                aria-activedescendant=move || (!suggestions.with(|s| s.is_empty())).then(|| format!("sql-completion-{}", active.get()))
                aria-invalid=move || error_at.get().map(|_| "true")
                spellcheck="false"
                autocomplete="off"
                autocapitalize="off"
                wrap="off"
                bind:value=sql
                on:input=move |_| suggest()
                on:keydown=on_keydown
                on:scroll=sync_scroll
                on:blur=move |_| suggestions.set(vec![])
            ></textarea>
        <ul id="sql-completions" role="listbox" aria-label="Completions"
            class=move || if suggestions.with(|s| s.is_empty()) { "hidden" } else { "absolute right-1 top-1 z-10 max-h-36 w-72 max-w-[80%] overflow-auto rounded border border-slate-300 bg-white text-sm shadow dark:border-slate-600 dark:bg-slate-800" }
            data-testid="completions">
            {move || suggestions.get().into_iter().enumerate().map(|(i, c)| {
                let selected = move || active.get() == i;
                view! {
                    <li id=format!("sql-completion-{i}") role="option" aria-selected=move || if selected() { "true" } else { "false" }
                        class=move || if selected() { "flex min-h-6 cursor-pointer gap-2 bg-sky-100 px-2 py-0.5 dark:bg-sky-900" } else { "flex min-h-6 cursor-pointer gap-2 px-2 py-0.5" }
                        on:mousedown=move |ev| { ev.prevent_default(); accept(i); }>
                        <span class="font-mono">{c.text.clone()}</span>
                        <span class="text-xs text-slate-600 dark:text-slate-300">{c.kind}{(!c.detail.is_empty()).then(|| format!(" · {}", c.detail))}</span>
                        {c.masked.then(|| view! { <span class="rounded bg-amber-100 px-1 text-xs text-amber-900">"masked"</span> })}
                    </li>
                }
            }).collect_view()}
        </ul>
        </div>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dom_positions_map_to_bytes() {
        let text = "é😀a";
        assert_eq!(super::byte_offset(text, 0), 0);
        assert_eq!(super::byte_offset(text, 1), 2);
        assert_eq!(super::byte_offset(text, 3), 6);
        assert_eq!(super::byte_offset(text, 9), text.len());
        assert_eq!(super::utf16_len(text), 4);
    }
}
