"""Keys of the app served to a browser (issue 11, item 7): no action needs a key the browser keeps."""

from __future__ import annotations

from textual.binding import Binding, BindingsMap

from tui.served_keys import BROWSER_KEYS, adapt_for_browser


def shown(bindings: BindingsMap) -> dict[str, str]:
    return {key: b.action for key, bs in bindings.key_to_bindings.items() for b in bs if b.show}


def test_training_gets_f10_in_the_footer_and_ctrl_t_is_hidden() -> None:
    bindings = adapt_for_browser(BindingsMap([Binding("ctrl+t", "toggle_training", "Train", priority=True),
                                              Binding("f1", "help", "Help")]))
    assert shown(bindings) == {"f10": "toggle_training", "f1": "help"}
    [f10] = bindings.key_to_bindings["f10"]
    assert f10.priority and f10.description == "Train"


def test_ctrl_w_never_deletes_a_word_when_served() -> None:
    bindings = adapt_for_browser(BindingsMap([Binding("f1", "help", "Help")]))
    [ctrl_w] = bindings.key_to_bindings["ctrl+w"]
    assert ctrl_w.action == "browser_ctrl_w" and ctrl_w.priority  # over the text areas' delete-word


def test_no_shown_action_is_left_on_a_browser_key() -> None:
    from tui.screens.keys import BINDINGS

    bindings = adapt_for_browser(BindingsMap(BINDINGS))
    assert not set(shown(bindings)) & set(BROWSER_KEYS)
    actions = {b.action for b in BINDINGS}
    reachable = {b.action for bs in bindings.key_to_bindings.values() for b in bs if b.key not in BROWSER_KEYS}
    assert actions <= reachable
