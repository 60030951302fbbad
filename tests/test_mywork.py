"""我的工作 (issue 17): each role's figures, each the row count of the list it links to; the
representative's home (defect 9)."""

import datetime as dt
import html
import re

import pytest
from sqlalchemy import select

from app.core.clock import today
from app.extensions import db
from app.models.lookups import ContactForm
from app.models.personnel import Person
from tests.conftest import login
from tests.factories import lookup, make_appeal, make_contact, make_representative, make_user, make_visit, tree

FIGURE = re.compile(r'href="([^"]+)" data-mq-work="(\w+)">.*?data-mq-count>(\d+)<', re.S)
RECORD_COUNT = re.compile(r"记录数目:</strong>\s*(\d+)")


def _figures(client):
    page = client.get("/mywork/")
    assert page.status_code == 200
    return {key: (html.unescape(url), int(count)) for url, key, count in FIGURE.findall(page.get_data(as_text=True))}


def _listed(client, url):
    """How many rows the linked page lists: a list's 记录数目, the follow-ups' two counts."""
    page = client.get(url)
    assert page.status_code == 200, url
    text = page.get_data(as_text=True)
    if "/followups" in url:
        overdue = int(re.search(r'id="mq-count-overdue">(\d+)<', text).group(1))
        return overdue + int(re.search(r'id="mq-count-soon">(\d+)<', text).group(1))
    return int(RECORD_COUNT.search(text).group(1))


def _person(user):
    return db.session.scalar(select(Person).where(Person.user_id == user.id))


def _world():
    """Appeals, visits and contact records in township A and, out of reach, township B."""
    t = tree()
    clerk = make_user("Clerk", t["ta"])
    worker = make_user("GridWorker", t["a1"])
    me = _person(worker)
    for grid in (t["a1"], t["a2"], t["b1"]):
        filed = make_appeal(grid)  # 待交办
        filed.filed_by_id = clerk.id
        mine = make_appeal(grid, "assigned")
        mine.handler_person_id = me.id
        make_appeal(grid, "archived").handler_person_id = me.id  # closed: not 交办给我的 any more
        supervised = make_appeal(grid, "in_progress")
        supervised.supervised = True
        extended = make_appeal(grid, "assigned")
        extended.extension_until = today() + dt.timedelta(days=20)
        make_visit(grid, [me], follow_up_date=today() + dt.timedelta(days=2))
        make_visit(grid, [], visit_date=today() - dt.timedelta(days=9), follow_up_date=today() - dt.timedelta(days=2))
    db.session.commit()
    return t, clerk, worker


@pytest.mark.parametrize(
    "role, expected",
    [
        ("Clerk", {"filed", "unassigned"}),
        ("GridWorker", {"mine", "visits", "followups"}),
        ("Leader", {"supervised", "extension", "overdue"}),
    ],
)
def test_each_figure_is_the_count_of_the_list_it_links_to(client, role, expected):
    t, clerk, worker = _world()
    user = {"Clerk": clerk, "GridWorker": worker}.get(role) or make_user(role, t["ta"])
    login(client, user)
    figures = _figures(client)
    assert set(figures) == expected
    for key, (url, count) in figures.items():
        assert _listed(client, url) == count, (key, url)
    nonzero = {key for key, (url, count) in figures.items() if count}
    assert nonzero >= expected - {"overdue"}, figures  # the world gives each a row to count


def test_the_figures_are_the_users_own_and_in_scope(client):
    t, clerk, worker = _world()
    login(client, clerk)
    figures = _figures(client)
    assert figures["filed"][1] == 2  # the third is in township B, out of scope
    assert figures["unassigned"][1] == 2
    login(client, worker)
    figures = _figures(client)
    assert figures["mine"][1] == 1  # the open one of village A1 (A2 and B are not the worker's)
    assert figures["visits"][1] == 1
    other = make_user("GridWorker", t["a1"])
    login(client, other)
    assert _figures(client)["mine"][1] == 0 and _figures(client)["visits"][1] == 0


def test_registered_by_me_is_a_list_filter_with_its_own_counts(client):
    t, clerk, worker = _world()
    login(client, clerk)
    page = client.get("/appealview/list/?filed=1").get_data(as_text=True)
    assert "我登记的" in page
    assert re.search(r"全部 <span class=\"badge\">2</span>", page)  # the tabs count the same rows


def test_my_work_is_first_in_every_roles_menu(client):
    t = tree()
    for role, grid in (("Clerk", t["ta"]), ("GridWorker", t["a1"]), ("Leader", t["ta"]), ("Representative", t["a1"])):
        login(client, make_user(role, grid))
        page = client.get("/mywork/").get_data(as_text=True)
        menu = page.split('<nav class="mq-sidebar"', 1)[1].split("</nav>", 1)[0]
        first = re.search(r'data-mq-menu="([^"]+)"', menu).group(1)
        assert first == "My work", role
        assert "我的工作" in menu


def _rep_user(t):
    user = make_user("Representative", t["a1"])
    rep = make_representative(person=_person(user))
    return user, rep


def test_the_representatives_home_shows_their_progress_and_what_to_report(client, app):
    t = tree()
    user, rep = _rep_user(t)
    other = make_representative(grid=t["a1"])
    this_year = today().replace(month=1, day=2)
    make_contact(rep, contact_date=this_year, voter_count=12)
    make_contact(rep, contact_date=this_year, voter_count=3, important=True, place="说事点")
    make_contact(
        rep, contact_date=this_year, voter_count=1, important=True, reported_to="人大主席", reported_at=this_year
    )
    make_contact(other, contact_date=this_year, voter_count=30, important=True, place="别人的")
    login(client, user)
    page = client.get("/", follow_redirects=True).get_data(as_text=True)
    target = app.config["REPRESENTATIVE_YEARLY_CONTACTS"]
    assert 'id="mq-rep-home"' in page
    assert f"<span data-mq-rep-done>16</span>/<span data-mq-rep-target>{target}</span>" in page
    assert "说事点" in page and "别人的" not in page  # the one still to report, their own only
    assert "mq-stat" not in page and "mq-num" not in page  # no grid and person counts
    figures = _figures(client)
    assert figures["unreported"][1] == 1
    assert _listed(client, figures["unreported"][0]) == 1


def test_a_saved_contact_record_lands_on_itself(client):
    t = tree()
    user, rep = _rep_user(t)
    login(client, user)
    client.get("/")  # the form opened from the home page
    client.get(f"/contactrecordview/add?representative={rep.id}")
    response = client.post(
        "/contactrecordview/add",
        data={
            "representative": str(rep.id),
            "contact_date": today().isoformat(),
            "place": "村委会",
            "form": str(lookup(ContactForm).id),
            "voter_count": "5",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    assert re.search(r"/contactrecordview/show/\d+$", response.headers["Location"])
