//! Every key of the terminal UI, in one table: `App::on_key` dispatches
//! through it and the help overlay prints it, so the help cannot drift from
//! what the keys do, and a test finds two actions on one key.

use crossterm::event::KeyCode;

/// Where a binding applies. The focused chain panel's keys come first, so
/// that its `l` (parameter up, as in vi) reaches it; elsewhere `l` sets the
/// chest location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Global,
    Chain,
}

/// What a key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Help,
    Pause,
    NextPanel,
    PreviousPanel,
    Record,
    Stop,
    Location,
    /// Label the cycle being heard; the key's digit says which class.
    Label,
    Quit,
    SelectUp,
    SelectDown,
    Bypass,
    MoveUp,
    MoveDown,
    NextParam,
    ParamDown,
    ParamUp,
    ClearFault,
}

pub struct Binding {
    pub scope: Scope,
    pub keys: &'static [KeyCode],
    /// The keys as the help names them.
    pub shown: &'static str,
    pub action: Action,
    pub help: &'static str,
}

const fn bind(scope: Scope, keys: &'static [KeyCode], shown: &'static str, action: Action, help: &'static str) -> Binding {
    Binding { scope, keys, shown, action, help }
}

use Action::*;
use KeyCode::{BackTab, Char, Down, Esc, Left, Right, Tab, Up};
use Scope::{Chain, Global};

/// The keymap, in the order the help lists it. Ctrl-C (quit now, the
/// recording saved first) and the location prompt's editing keys are
/// handled before it.
pub const KEYMAP: &[Binding] = &[
    bind(Global, &[Char('?')], "?", Help, "show this help"),
    bind(Global, &[Char(' ')], "space", Pause, "pause/resume the display (recording continues)"),
    bind(Global, &[Char('r')], "r", Record, "start recording a session"),
    bind(Global, &[Char('s')], "s", Stop, "stop recording (saves the session)"),
    bind(Global, &[Char('l')], "l", Location, "set the chest location (outside the chain panel)"),
    bind(Global, &[Char('1'), Char('2'), Char('3'), Char('4')], "1-4", Label, "label the current cycle: normal, crackles, wheezes, both"),
    bind(Global, &[Tab], "tab", NextPanel, "next panel (spectrogram, chain, predictions)"),
    bind(Global, &[BackTab], "shift-tab", PreviousPanel, "previous panel"),
    bind(Global, &[Char('q'), Esc], "q / Esc", Quit, "quit (asks first while recording)"),
    bind(Chain, &[Up, Char('k')], "chain: ↑ k", SelectUp, "select the plugin above"),
    bind(Chain, &[Down, Char('j')], "chain: ↓ j", SelectDown, "select the plugin below"),
    bind(Chain, &[Char('b')], "chain: b", Bypass, "bypass / enable the plugin"),
    bind(Chain, &[Char('['), Char('K')], "chain: [ K", MoveUp, "move the plugin up"),
    bind(Chain, &[Char(']'), Char('J')], "chain: ] J", MoveDown, "move the plugin down"),
    bind(Chain, &[Char('p')], "chain: p", NextParam, "next parameter"),
    bind(Chain, &[Left, Char('h'), Char('-')], "chain: ← h -", ParamDown, "lower the parameter (stops at its limit)"),
    bind(Chain, &[Right, Char('l'), Char('+')], "chain: → l +", ParamUp, "raise the parameter (stops at its limit)"),
    bind(Chain, &[Char('c')], "chain: c", ClearFault, "clear a fault and re-enable the plugin"),
];

/// Shown after the table.
pub const FOOTNOTES: [(&str, &str); 2] = [("Ctrl-C", "quit now (a recording is saved first)"), ("", "no mouse: text selection works over SSH")];

/// The action `code` has in `scope`, if any.
pub fn action(scope: Scope, code: KeyCode) -> Option<Action> {
    KEYMAP.iter().find(|b| b.scope == scope && b.keys.contains(&code)).map(|b| b.action)
}

/// The help overlay's lines: key, then what it does.
pub fn help_lines() -> Vec<String> {
    KEYMAP.iter().map(|b| (b.shown, b.help)).chain(FOOTNOTES).map(|(k, what)| if k.is_empty() { what.to_string() } else { format!("{k:<18} {what}") }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_has_two_actions_in_one_scope() {
        for scope in [Global, Chain] {
            let keys: Vec<KeyCode> = KEYMAP.iter().filter(|b| b.scope == scope).flat_map(|b| b.keys.iter().copied()).collect();
            for (i, k) in keys.iter().enumerate() {
                assert!(!keys[i + 1..].contains(k), "{k:?} is bound twice in {scope:?}");
            }
        }
    }

    #[test]
    fn the_chain_panel_shadows_only_the_keys_it_means_to() {
        // `l` is the one global key the chain panel takes (parameter up);
        // the help says so on the global binding.
        let shadowed: Vec<KeyCode> =
            KEYMAP.iter().filter(|b| b.scope == Chain).flat_map(|b| b.keys.iter().copied()).filter(|&k| action(Global, k).is_some()).collect();
        assert_eq!(shadowed, [Char('l')]);
        assert!(KEYMAP.iter().any(|b| b.keys.contains(&Char('l')) && b.scope == Global && b.help.contains("outside the chain panel")));
    }

    #[test]
    fn the_readme_table_is_this_keymap() {
        let readme = include_str!("../../README.md");
        for (shown, help) in KEYMAP.iter().map(|b| (b.shown, b.help)).chain(FOOTNOTES.into_iter().filter(|(k, _)| !k.is_empty())) {
            assert!(readme.contains(&format!("| `{shown}` | {help} |")), "the README's key table lacks `{shown}`: {help}");
        }
    }

    /// An action with no binding would never be built, which the
    /// compiler's dead-code lint (denied in CI) reports; this checks that
    /// each has one binding only, and its line in the help.
    #[test]
    fn each_action_has_one_binding_and_a_help_line() {
        for (i, b) in KEYMAP.iter().enumerate() {
            assert!(KEYMAP[i + 1..].iter().all(|o| o.action != b.action), "{:?} is bound twice", b.action);
            assert!(!b.keys.is_empty() && !b.shown.is_empty() && help_lines().iter().any(|l| l.contains(b.help)), "{:?}", b.action);
        }
        assert_eq!(help_lines().len(), KEYMAP.len() + FOOTNOTES.len());
    }
}
