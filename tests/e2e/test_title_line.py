"""The page title and its main actions on one line, on every page (issue 17): for each demo role,
every page its menu opens, and from each list the first record's page, its edit form and the add
form. At 1366 px the title and the actions share one line; at 390 px the actions wrap under the
title and nothing is wider than the screen."""

import pytest

from tests.e2e.test_layout import ROLES, admin  # noqa: F401 (the e2eadmin fixture)

LINE = """() => {
  const lines = [...document.querySelectorAll('.mq-title-line')];
  const line = lines[0];
  if (!line) return {count: 0};
  const title = line.querySelector('.panel-title, .mq-title');
  const actions = line.querySelector('.mq-head-actions');
  const box = e => e ? e.getBoundingClientRect() : null;
  const t = box(title), a = box(actions);
  return {
    count: lines.length, title: title ? title.innerText.trim() : '',
    titleTop: t && t.top, titleBottom: t && t.bottom, titleHeight: t && t.height,
    actionsTop: a && a.top, actionsBottom: a && a.bottom, buttons: actions ? actions.querySelectorAll('.btn').length : 0,
    scroll: document.scrollingElement.scrollWidth, inner: window.innerWidth,
  };
}"""


EXPANDED_LISTS = 6  # lists per role whose first record, edit form and add form are walked too


def _menu(session):
    links = session.page.eval_on_selector_all(
        "#mq-sidebar [data-mq-menu]", "els => els.map(e => e.getAttribute('href'))"
    )
    return [href for href in dict.fromkeys(links) if href and href.startswith("/")]


def _records_of(page, href):
    """The first record's page and edit form, and the add form, linked from the list at `href`."""
    base = href.split("/list/")[0]
    found = page.eval_on_selector_all(
        ".mq-content a[href*='/show/'], .mq-content a[href*='/edit/'], .mq-content a[href$='/add']",
        "els => els.map(e => e.getAttribute('href'))",
    )
    return [next(f for f in found if kind in f and f.startswith(base)) for kind in ("/show/", "/edit/", "/add")
            if any(kind in f and f.startswith(base) for f in found)]  # fmt: skip


def _check(session, path, phone):
    page = session.go(path)
    state = page.evaluate(LINE)
    label = f"{path} at {'390' if phone else '1366'} px"
    assert session.errors == [], f"{label}: {session.errors}"
    assert state["count"] == 1, f"{label}: {state['count']} title lines"
    assert state["title"], f"{label}: the title line has no title"
    assert state["scroll"] <= state["inner"], f"{label}: {state['scroll']}px wide in {state['inner']}px"
    if state["buttons"]:
        if phone:  # under the title
            assert state["actionsTop"] >= state["titleBottom"] - 1, f"{label}: actions beside the title: {state}"
        else:  # beside it, on its line
            assert state["actionsTop"] < state["titleBottom"], f"{label}: actions under the title: {state}"
    return state


@pytest.mark.parametrize("username", list(ROLES))
def test_every_page_has_its_title_and_main_actions_on_one_line(as_user, admin, username):  # noqa: F811
    wide = as_user(username, width=1366, height=900)
    wide.go("/")
    pages, queue, expanded = [], _menu(wide), 0
    while queue:
        path = queue.pop(0)
        pages.append(path)
        _check(wide, path, phone=False)
        if "/list/" in path and "?" not in path and expanded < EXPANDED_LISTS:
            more = [p for p in _records_of(wide.page, path) if p not in pages and p not in queue]
            expanded += bool(more)
            queue = more + queue
    kinds = {kind: [p for p in pages if f"/{kind}" in p] for kind in ("show", "edit", "add")}
    writes = username != "leader"  # a leader reads and supervises: no add or edit form in the lists
    assert kinds["show"] and (not writes or (kinds["edit"] and kinds["add"])), f"{username}: walked {kinds}"
    if username in ("clerk", "e2eadmin"):
        narrow = as_user(username, width=390, height=844)
        for path in pages if username == "clerk" else pages[::3] + [p for p in kinds["edit"]]:
            _check(narrow, path, phone=True)
        if username == "clerk":
            show = kinds["show"][0]
            narrow.go(show)
            narrow.shot("37-clerk-phone-record-title-line", full_page=False)
            wide.go(show)
            wide.shot("38-clerk-record-title-line", full_page=False)
