"""The seeds' printed ledgers (issue 16): 一人一帐 from a person's page, 一村一册 and 半年小结 from a
grid's page: the right rows, the period, scope (another township's are 404) and masking."""

from datetime import date

from app.extensions import db
from tests.conftest import login
from tests.factories import make_appeal, make_person, make_user, make_visit, tree

YEAR = "?from=2026-01-01&to=2026-12-31"


def _world():
    t = tree()
    cadre = make_person(t["a1"], name="包村干部")
    other = make_person(t["a2"], name="邻村干部")
    mine = make_visit(
        t["a1"],
        [cadre],
        visit_date=date(2026, 11, 5),
        visited_name="张大爷",
        visited_phone="13911112222",
        family_size=4,
        situation="独居老人",
        problems="屋顶漏雨",
    )
    make_visit(t["a2"], [other], visit_date=date(2026, 11, 6), visited_name="李大妈")
    make_visit(t["a1"], [cadre], visit_date=date(2025, 11, 6), visited_name="去年户")
    handled = make_appeal(
        t["a1"], status="assigned", at="2026-11-03 09:00", reporter_name="王五", reporter_phone="13733334444"
    )
    handled.handler_person_id = cadre.id
    make_appeal(t["a2"], status="answered", at="2026-03-03 09:00", reporter_name="赵六")
    db.session.commit()
    return {**t, "cadre": cadre, "visit": mine, "appeal": handled}  # fmt: skip


def test_one_person_one_ledger_lists_their_visits_and_cases_masked_for_a_leader(client):
    w = _world()
    login(client, make_user("Leader", w["ta"]))
    show = client.get(f"/personview/show/{w['cadre'].id}").get_data(as_text=True)
    assert f"/personview/ledger/{w['cadre'].id}" in show
    response = client.get(f"/personview/ledger/{w['cadre'].id}{YEAR}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "一人一帐" in page and "张大爷" in page and w["appeal"].number in page
    assert "李大妈" not in page and "去年户" not in page and "赵六" not in page
    assert "13911112222" not in page and "13733334444" not in page  # leaders read no full phones
    assert "137****4444" in page


def test_a_clerk_reads_the_full_phones(client):
    w = _world()
    login(client, make_user("Clerk", w["ta"]))
    page = client.get(f"/personview/ledger/{w['cadre'].id}{YEAR}").get_data(as_text=True)
    assert "13733334444" in page and "13911112222" in page and "独居老人" in page


def test_one_village_one_book_holds_its_cases_and_visits(client):
    w = _world()
    login(client, make_user("Leader", w["ta"]))
    show = client.get(f"/gridview/show/{w['a1'].id}").get_data(as_text=True)
    assert f"/gridview/village_book/{w['a1'].id}" in show and f"/gridview/half_year/{w['a1'].id}" in show
    response = client.get(f"/gridview/village_book/{w['a1'].id}{YEAR}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "一村一册" in page and "张大爷" in page and "王五" in page and "包村干部" in page
    assert "李大妈" not in page and "赵六" not in page and "13911112222" not in page
    assert "说事登记簿" in page or "台账" in page
    assert client.get(f"/gridview/village_book/{w['a1'].id}?from=2026-13-01").status_code == 400


def test_the_half_year_summary_counts_the_grids_figures(client):
    w = _world()
    login(client, make_user("Leader", w["ta"]))
    response = client.get(f"/gridview/half_year/{w['ta'].id}?year=2026&half=2")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "半年小结" in page and "甲一村" in page
    totals = page.split('id="mq-half-totals"')[1].split("</table>")[0]
    assert "<th>收集</th><td>1</td>" in totals  # 王五's case; 赵六's is of the first half
    first = client.get(f"/gridview/half_year/{w['ta'].id}?year=2026&half=1").get_data(as_text=True)
    assert "<th>收集</th><td>1</td>" in first.split('id="mq-half-totals"')[1].split("</table>")[0]


def test_another_township_prints_nothing_of_ours(client):
    w = _world()
    login(client, make_user("Leader", w["tb"]))
    assert client.get(f"/personview/ledger/{w['cadre'].id}{YEAR}").status_code == 404
    assert client.get(f"/gridview/village_book/{w['a1'].id}{YEAR}").status_code == 404
    assert client.get(f"/gridview/half_year/{w['ta'].id}").status_code == 404
