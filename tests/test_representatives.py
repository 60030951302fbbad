"""Representatives: 40 person-times a year, the record book, own-records-only scope, bad input."""

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.core.clock import frozen
from app.core.errors import DomainError
from app.core.excel import safe_cell
from app.extensions import db
from app.models.lookups import ContactForm
from app.models.personnel import Person
from app.models.representatives import Constituency, ContactRecord, Representative
from app.services import representatives as rep_service
from tests.conftest import api_token, login, statements_seen
from tests.factories import (
    lookup,
    make_assignment,
    make_constituency,
    make_contact,
    make_person,
    make_representative,
    make_user,
)

TODAY = "2026-07-01 10:00"  # day 182 of 365: 20 of 40 person-times expected by today


def link(user, person):
    person.user_id = user.id
    db.session.commit()


@pytest.fixture
def world(world):
    t = world
    t["ca"] = make_constituency([t["a1"], t["a2"]], name="甲镇第一选区")
    t["cb"] = make_constituency([t["b1"]], name="乙镇第一选区")
    term = (2021, 2026)
    t["r1"] = make_representative(make_person(t["a1"], name="代表甲"), t["ca"], term=term)
    t["r2"] = make_representative(make_person(t["a2"], name="代表乙"), t["ca"], term=term)
    t["r3"] = make_representative(make_person(t["b1"], name="代表丙"), t["cb"], term=term)
    return t


def rep_user(person, roles=("Representative",)):
    user = make_user(roles[0], roles=list(roles))
    link(user, person)
    return user


def contact_count(rep):
    return db.session.scalar(
        select(func.count()).select_from(ContactRecord).where(ContactRecord.representative_id == rep.id)
    )


# --- the yearly target -------------------------------------------------------


def test_a_forum_of_twelve_counts_twelve_toward_forty(client, world):
    r1 = world["r1"]
    with frozen(TODAY):
        make_contact(r1, date(2026, 3, 5), voter_count=12, form="选民座谈会", place="甲一村会议室")
        make_contact(r1, date(2026, 5, 9), voter_count=1, form="走访")
        make_contact(r1, date(2026, 6, 1), voter_count=1, form="电话")
        make_contact(r1, date(2025, 12, 31), voter_count=30)  # last year does not count
        make_contact(world["r2"], date(2026, 3, 5), voter_count=12)  # nor does a colleague's forum
        progress = rep_service.progress(db.session, r1, 2026)
        assert (progress.target, progress.done, progress.records, progress.shortfall) == (40, 14, 3, 26)
        assert progress.expected == 20 and progress.behind_pace
        headers = api_token(client, make_user("Leader", world["ta"]))
        data = client.get(f"/api/v1/representative/{r1.id}/progress?year=2026", headers=headers).json
        assert (data["target"], data["done"], data["records"]) == (40, 14, 3)
        assert data["behind_pace"] is True and data["expected_by_today"] == 20
        assert client.get(f"/api/v1/representative/{r1.id}/progress?year=2025", headers=headers).json["done"] == 30
        bad = client.get(f"/api/v1/representative/{r1.id}/progress?year=abc", headers=headers)
        assert bad.status_code == 422


def test_the_target_is_a_setting(app, world):
    with frozen(TODAY):
        make_contact(world["r1"], date(2026, 3, 5), voter_count=12)
        app.config["REPRESENTATIVE_YEARLY_CONTACTS"] = 12
        try:
            progress = rep_service.progress(db.session, world["r1"], 2026)
            assert (progress.target, progress.shortfall, progress.behind_pace) == (12, 0, False)
        finally:
            app.config["REPRESENTATIVE_YEARLY_CONTACTS"] = 40


def test_progress_overview_worst_first_with_a_pace_warning(client, world):
    with frozen(TODAY):
        make_contact(world["r1"], date(2026, 3, 5), voter_count=25)
        make_contact(world["r2"], date(2026, 3, 5), voter_count=5)
        login(client, make_user("Leader", world["ta"]))
        body = client.get("/representativeview/progress/?year=2026").get_data(as_text=True)
        assert body.index("代表乙") < body.index("代表甲") and "代表丙" not in body
        assert "落后于进度" in body
        page = client.get(f"/representativeview/show/{world['r2'].id}?year=2026").get_data(as_text=True)
        assert "落后于时间进度" in page and "5</strong> / 40" in page


# --- who sees what ---------------------------------------------------------------


def test_a_representative_sees_and_edits_only_their_own_records(client, world):
    with frozen(TODAY):
        mine = make_contact(world["r1"], date(2026, 6, 1), place="我的走访")
        theirs = make_contact(world["r2"], date(2026, 6, 1), place="别人的座谈会")
        user = rep_user(world["r1"].person)
        login(client, user)
        body = client.get("/contactrecordview/list/").get_data(as_text=True)
        assert "我的走访" in body and "别人的座谈会" not in body
        for url in (
            f"/contactrecordview/show/{theirs.id}",
            f"/contactrecordview/edit/{theirs.id}",
            f"/representativeview/show/{world['r2'].id}",
            f"/representativeview/record_book/{world['r2'].id}?year=2026",
            f"/representativeview/record_book_xlsx/{world['r2'].id}?year=2026",
        ):
            assert client.get(url).status_code == 404, url
        assert client.post(f"/contactrecordview/edit/{theirs.id}", data={"place": "改"}).status_code == 404
        assert client.post(f"/contactrecordview/delete/{theirs.id}").status_code == 404
        assert client.get(f"/contactrecordview/show/{mine.id}").status_code == 200
        assert client.get(f"/representativeview/show/{world['r1'].id}").status_code == 200
        # the add form starts with the representative's own mandate; another's is refused
        form = client.get("/contactrecordview/add").get_data(as_text=True)
        assert f'<option value="{world["r1"].id}" selected>' in form
        body = client.post("/contactrecordview/add", data={
            "representative": str(world["r2"].id), "contact_date": "2026-06-20", "place": "冒名",
            "form": str(lookup(ContactForm, "走访").id), "voter_count": "3",
        }).get_data(as_text=True)  # fmt: skip
        assert "所选记录不存在或不在您的管辖范围内" in body
        assert contact_count(world["r2"]) == 1
        picker = client.get("/picker/representative?q=").json["results"]
        assert [r["id"] for r in picker] == [world["r1"].id]
        # the API says the same
        headers = api_token(client, user)
        assert client.get(f"/api/v1/contactrecord/{theirs.id}", headers=headers).status_code == 404
        assert (
            client.put(f"/api/v1/contactrecord/{theirs.id}", json={"place": "改"}, headers=headers).status_code == 404
        )
        assert client.delete(f"/api/v1/contactrecord/{theirs.id}", headers=headers).status_code == 404
        assert client.get(f"/api/v1/representative/{world['r2'].id}/progress", headers=headers).status_code == 404
        assert client.get("/api/v1/contactrecord/", headers=headers).json["ids"] == [mine.id]
        response = client.post("/api/v1/contactrecord/", json={
            "representative": world["r2"].id, "contact_date": "2026-06-20", "place": "冒名",
            "form": lookup(ContactForm, "走访").id, "voter_count": 3,
        }, headers=headers)  # fmt: skip
        assert response.status_code == 404
        db.session.expire_all()
        assert db.session.get(ContactRecord, theirs.id).place == "别人的座谈会"
        assert contact_count(world["r2"]) == 1


def test_a_representative_records_a_contact(client, world):
    with frozen(TODAY):
        login(client, rep_user(world["r1"].person))
        response = client.post("/contactrecordview/add", data={
            "representative": str(world["r1"].id), "contact_date": "2026-06-30", "place": "代表工作室",
            "form": str(lookup(ContactForm, "代表工作室接待").id), "voter_count": "12",
            "voter_names": "张三、李四", "opinions": "村道坑洼，雨天难行", "replies": "已向交通所反映",
            "important": "y", "reported_to": "人大主席", "reported_at": "2026-07-01",
        }, follow_redirects=True)  # fmt: skip
        assert "记录已添加" in response.get_data(as_text=True)
        record = db.session.scalar(select(ContactRecord).where(ContactRecord.place == "代表工作室"))
        assert record.voter_count == 12 and record.important and record.reported_to == "人大主席"
        assert rep_service.report_status(record) == "reported"
        assert rep_service.progress(db.session, world["r1"], 2026).done == 12


def test_leaders_see_every_record_of_their_jurisdiction_only(client, world):
    with frozen(TODAY):
        make_contact(world["r1"], date(2026, 6, 1), place="甲一记录")
        make_contact(world["r2"], date(2026, 6, 1), place="甲二记录")
        other = make_contact(world["r3"], date(2026, 6, 1), place="乙镇记录")
        login(client, make_user("Leader", world["ta"]))
        body = client.get("/contactrecordview/list/").get_data(as_text=True)
        assert "甲一记录" in body and "甲二记录" in body and "乙镇记录" not in body
        assert client.get(f"/contactrecordview/show/{other.id}").status_code == 404
        assert client.get("/contactrecordview/add").status_code in (302, 403)
        login(client, make_user("Leader", world["tb"]))
        body = client.get("/contactrecordview/list/").get_data(as_text=True)
        assert "乙镇记录" in body and "甲一记录" not in body


def test_several_roles_see_the_union(client, world):
    """A clerk of township B who is also representative 甲 sees B's records and their own."""
    with frozen(TODAY):
        make_contact(world["r1"], date(2026, 6, 1), place="自己的记录")
        make_contact(world["r2"], date(2026, 6, 1), place="同选区别人的记录")
        make_contact(world["r3"], date(2026, 6, 1), place="乙镇记录")
        user = make_user("Clerk", world["tb"], roles=["Clerk", "Representative"])
        person = db.session.scalar(select(Person).where(Person.user_id == user.id))
        person.user_id = None
        db.session.commit()
        link(user, world["r1"].person)
        make_assignment(world["r1"].person, world["tb"])
        login(client, user)
        body = client.get("/contactrecordview/list/").get_data(as_text=True)
        assert "自己的记录" in body and "乙镇记录" in body and "同选区别人的记录" not in body


# --- bad input --------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides,field,message",
    [
        ({"voter_count": "-3"}, "voter_count", "联系选民人次至少为1"),
        ({"voter_count": "0"}, "voter_count", "联系选民人次至少为1"),
        ({"voter_count": ""}, "voter_count", "联系选民人次至少为1"),
        ({"contact_date": "2026-07-02"}, "contact_date", "日期2026-07-02晚于今天"),
        ({"contact_date": "2019-05-01"}, "contact_date", "不在该代表的任期（2021–2026）内"),
        ({"place": " "}, "place", "请填写联系地点"),
        ({"reported_to": "人大主席"}, "reported_at", "请填写报告日期"),
        ({"reported_to": "人大主席", "reported_at": "2026-05-31"}, "reported_at", "报告日期不能早于联系日期"),
    ],
)
def test_bad_contact_input_is_refused(client, world, overrides, field, message):
    with frozen(TODAY):
        login(client, make_user("Clerk", world["ta"]))
        data = {
            "representative": str(world["r1"].id), "contact_date": "2026-06-01", "place": "村委会",
            "form": str(lookup(ContactForm, "走访").id), "voter_count": "2",
        }  # fmt: skip
        data.update(overrides)
        body = client.post("/contactrecordview/add", data=data).get_data(as_text=True)
        assert message in body, field
        assert contact_count(world["r1"]) == 0


def test_bad_contact_input_through_the_api(client, world):
    with frozen(TODAY):
        headers = api_token(client, make_user("Clerk", world["ta"]))
        payload = {"representative": world["r1"].id, "contact_date": "2026-06-01", "place": "村委会",
                   "form": lookup(ContactForm, "走访").id, "voter_count": -1}  # fmt: skip
        response = client.post("/api/v1/contactrecord/", json=payload, headers=headers)
        assert response.status_code == 422 and response.json["field"] == "voter_count"
        assert (
            client.post("/api/v1/contactrecord/", json={**payload, "voter_count": 12}, headers=headers).status_code
            == 201
        )
        assert contact_count(world["r1"]) == 1


def test_an_inactive_representative_gets_no_new_records(world):
    with frozen(TODAY):
        rep = world["r1"]
        rep.active = False
        db.session.commit()
        record = ContactRecord(representative=rep, contact_date=date(2026, 6, 1), place="x",
                               form=lookup(ContactForm, "走访"), voter_count=1)  # fmt: skip
        with pytest.raises(DomainError) as err:
            rep_service.validate_contact(db.session, record)
        assert "已不是在任代表" in str(err.value)
        db.session.rollback()


def test_representative_rules(client, world):
    with frozen(TODAY):
        login(client, make_user("Clerk", world["ta"]))
        person = make_person(world["a1"], name="新代表")
        base = {"person": str(person.id), "level": "county", "constituency": str(world["ca"].id),
                "term_start": "2021", "term_end": "2026", "active": "y"}  # fmt: skip
        body = client.post("/representativeview/add", data={**base, "term_end": "2020"}).get_data(as_text=True)
        assert "任期止早于任期起" in body
        client.post("/representativeview/add", data=base)
        rep = db.session.scalar(select(Representative).where(Representative.person_id == person.id))
        assert rep.level == "county" and rep.term == "2021–2026"
        body = client.post("/representativeview/add", data=base).get_data(as_text=True)
        assert "已登记为本届该级人大代表" in body
        body = client.post("/representativeview/add", data={**base, "constituency": str(world["cb"].id)}).get_data(
            as_text=True
        )
        assert "所选记录不存在或不在您的管辖范围内" in body
        # the Representative role may read its mandate, never change it
        login(client, rep_user(world["r1"].person))
        assert client.get(f"/representativeview/edit/{world['r1'].id}").status_code in (302, 403)


def test_a_constituency_belongs_to_the_lowest_grid_covering_it(client, world):
    assert world["ca"].grid_id == world["ta"].id and world["cb"].grid_id == world["b1"].id
    with frozen(TODAY):
        login(client, make_user("Clerk", world["ta"]))
        client.post("/constituencyview/add", data={"name": "甲一选区", "grids": [str(world["a1a"].id)]})
        made = db.session.scalar(select(Constituency).where(Constituency.name == "甲一选区"))
        assert made.grid_id == world["a1a"].id and [g.id for g in made.grids] == [world["a1a"].id]
        body = client.post(
            "/constituencyview/add", data={"name": "跨镇选区", "grids": [str(world["a1"].id), str(world["b1"].id)]}
        ).get_data(as_text=True)
        assert "所选记录不存在或不在您的管辖范围内" in body
        body = client.post("/constituencyview/add", data={"name": "空选区"}).get_data(as_text=True)
        assert "请选择选区覆盖的网格" in body
        # a user working in two villages of two townships: the constituency would belong to the county
        user = make_user("Clerk", world["a1"])
        make_assignment(db.session.scalar(select(Person).where(Person.user_id == user.id)), world["b1"])
        login(client, user)
        body = client.post(
            "/constituencyview/add", data={"name": "两镇选区", "grids": [str(world["a1"].id), str(world["b1"].id)]}
        ).get_data(as_text=True)
        assert "所选网格不在您的管辖范围内" in body
        assert db.session.scalar(select(func.count()).select_from(Constituency)) == 3


# --- important opinions -------------------------------------------------------------


def test_important_opinions_not_reported_in_time_are_flagged(client, world):
    r1 = world["r1"]
    with frozen(TODAY):
        on_time = make_contact(r1, date(2026, 6, 20), important=True, reported_to="人大主席",
                               reported_at=date(2026, 6, 22), opinions="按时报告")  # fmt: skip
        late = make_contact(r1, date(2026, 6, 10), important=True, reported_to="人大副主席",
                            reported_at=date(2026, 6, 20), opinions="迟报")  # fmt: skip
        overdue = make_contact(r1, date(2026, 6, 20), important=True, opinions="一直没报告的意见")
        pending = make_contact(r1, date(2026, 6, 29), important=True, opinions="刚收到")
        ordinary = make_contact(r1, date(2026, 6, 1), opinions="一般意见")
        assert [rep_service.report_status(r) for r in (on_time, late, overdue, pending, ordinary)] == [
            "reported", "late", "overdue", "pending", None,
        ]  # fmt: skip
        assert rep_service.progress(db.session, r1, 2026).overdue_reports == 1
        login(client, make_user("Leader", world["ta"]))
        body = client.get("/representativeview/progress/?year=2026").get_data(as_text=True)
        assert "一直没报告的意见" in body and "刚收到" not in body and "迟报" not in body
        listing = client.get("/contactrecordview/list/").get_data(as_text=True)
        assert "未及时报告" in listing and "逾期报告" in listing and "待报告" in listing


def test_the_overdue_list_reads_a_fixed_number_of_statements(client, world):
    """The list under the progress table shows each record's representative by name; loading it
    costs the same statements for one record or for six of two representatives (no query per
    row, and not the models' joined chains through every person of the jurisdiction)."""
    r1, r2 = world["r1"], world["r2"]
    login(client, make_user("Leader", world["ta"]))
    with frozen(TODAY):
        make_contact(r1, date(2026, 6, 1), important=True, opinions="第一条未报")

        def page():  # the second look: the first after a write reloads the session's user
            client.get("/representativeview/progress/?year=2026")
            with statements_seen() as seen:
                body = client.get("/representativeview/progress/?year=2026").get_data(as_text=True)
            records = [q for q in seen if q.startswith("SELECT contact_record.id")]
            # the record's own columns (then its representatives and their people by id), no joins
            assert records and not any("grid_level_1." in q or "person_1." in q for q in records)
            return body.split('id="mq-overdue-reports"', 1)[1].split("</table>", 1)[0], len(seen)

        listed, one = page()
        assert "第一条未报" in listed and r1.display_name in listed
        for day in range(2, 7):
            make_contact(r1 if day % 2 else r2, date(2026, 6, day), important=True, opinions=f"未报{day}")
        listed, six = page()
        assert six == one and listed.count("<tr><td>") == 6 and r2.display_name in listed


def test_not_reported_in_time_the_list_and_the_column_count_the_same_records(client, world):
    """Issue 17 #11, by hand on 2026-07-01 (3 days to report): r1 has two overdue opinions of
    2026 (06-01, 06-20) and one of 2025; r2 one of 2026 (06-25) and one reported late (not overdue).
    The 2026 page lists r1's two and r2's one and no 2025 item; r1's column says 2, r2's 1; 2025 lists r1's one."""
    r1, r2 = world["r1"], world["r2"]
    with frozen(TODAY):
        make_contact(r1, date(2026, 6, 1), important=True, opinions="甲今年一")
        make_contact(r1, date(2026, 6, 20), important=True, opinions="甲今年二")
        make_contact(r1, date(2025, 11, 5), important=True, opinions="甲去年")
        make_contact(r2, date(2026, 6, 25), important=True, opinions="乙今年")
        make_contact(r2, date(2026, 5, 1), important=True, reported_to="人大主席", reported_at=date(2026, 5, 10),
                     opinions="乙迟报")  # fmt: skip
        make_contact(r2, date(2026, 6, 29), important=True, opinions="乙刚收到")  # within 3 days: pending
        login(client, make_user("Leader", world["ta"]))

        def shown(year):
            body = client.get(f"/representativeview/progress/?year={year}").get_data(as_text=True)
            listed = body.split('id="mq-overdue-reports"', 1)[1] if 'id="mq-overdue-reports"' in body else ""
            column = {}
            for row in body.split('id="mq-rep-progress"', 1)[1].split("</table>", 1)[0].split("<tr>")[2:]:
                cells = [c.split("</td>", 1)[0] for c in row.split("<td")[1:]]
                name = cells[0].split(">", 2)[2].split("<", 1)[0]
                column[name] = cells[-1].split(">", 1)[1].strip()
            return listed, column

        listed, column = shown(2026)
        assert "甲今年一" in listed and "甲今年二" in listed and "乙今年" in listed
        assert "甲去年" not in listed and "乙迟报" not in listed and "乙刚收到" not in listed
        assert column["代表甲"] == "2" and column["代表乙"] == "1"
        assert rep_service.progress(db.session, r1, 2026).overdue_reports == 2
        listed, column = shown(2025)
        assert "甲去年" in listed and "甲今年一" not in listed and "乙今年" not in listed
        assert column["代表甲"] == "1" and column["代表乙"] == ""
        # the representative sees his own, the same way
        rep_login = make_user("Representative", roles=["Representative"])
        link(rep_login, r1.person)
        login(client, rep_login)
        listed, column = shown(2026)
        assert "甲今年一" in listed and "甲今年二" in listed and "乙今年" not in listed
        assert column == {"代表甲": "2"}


# --- the record book -------------------------------------------------------------------


@pytest.fixture
def book_world(world):
    r1 = world["r1"]
    with frozen(TODAY):
        make_contact(r1, date(2026, 5, 9), voter_count=1, place="王家", opinions='=HYPERLINK("http://x")')
        make_contact(r1, date(2026, 3, 5), voter_count=12, form="选民座谈会", place="甲一村会议室",
                     voter_names="张三、李四", opinions="修路", replies="已转交通所", important=True,
                     reported_to="人大主席", reported_at=date(2026, 3, 6))  # fmt: skip
        make_contact(r1, date(2026, 6, 1), voter_count=3, form="电话", place="电话", opinions="-1分也不给")
        make_contact(r1, date(2025, 11, 1), voter_count=7, place="去年")
    return world


def test_record_book_page_in_date_order_with_the_total(client, book_world):
    r1 = book_world["r1"]
    with frozen(TODAY):
        login(client, make_user("Leader", book_world["ta"]))
        body = client.get(f"/representativeview/record_book/{r1.id}?year=2026").get_data(as_text=True)
        assert "联系选民记录簿" in body and "代表甲" in body and "甲镇第一选区" in body
        assert body.index("甲一村会议室") < body.index("王家") < body.index("-1分也不给")
        assert "去年" not in body
        assert 'id="mq-book-total">16<' in body and "共3次" in body


def test_record_book_xlsx(client, book_world):
    r1 = book_world["r1"]
    with frozen(TODAY):
        login(client, make_user("Leader", book_world["ta"]))
        response = client.get(f"/representativeview/record_book_xlsx/{r1.id}?year=2026")
        assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
        assert f"record-book-{r1.id}-2026.xlsx" in response.headers["Content-Disposition"]
        ws = load_workbook(io.BytesIO(response.data)).active
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
        header_index = next(i for i, r in enumerate(rows) if r[0] == "序号")
        header = rows[header_index]
        assert header[:5] == ["序号", "日期", "地点", "形式", "联系选民（人次）"]
        assert ws.cell(row=header_index + 1, column=1).font.bold
        body = rows[header_index + 1 : -1]
        assert [r[2] for r in body] == ["甲一村会议室", "王家", "电话"]
        assert [r[1].date() for r in body] == [date(2026, 3, 5), date(2026, 5, 9), date(2026, 6, 1)]
        assert body[0][5] == "张三、李四" and body[0][8] == "是" and body[0][9] == "人大主席"
        # text that a spreadsheet would run as a formula is neutralised
        assert body[1][6] == '\'=HYPERLINK("http://x")' and body[2][6] == "'-1分也不给"
        assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
        total = rows[-1]
        assert total[0] == "合计" and total[4] == 16 and total[3] == "共3次"
        assert ws.column_dimensions["G"].width == 40


def test_safe_cell():
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell("+86 138") == "'+86 138"
    assert safe_cell("正常") == "正常" and safe_cell(5) == 5


# --- the link to appeals --------------------------------------------------------------------


def test_an_opinion_maps_onto_an_appeal_forwarded_by_the_representative(client, world):
    with frozen(TODAY):
        record = make_contact(world["r1"], date(2026, 6, 1), place="甲一村", voter_names="张三、李四",
                              opinions="灌溉渠堵塞")  # fmt: skip
        data = rep_service.appeal_prefill_from_contact(record)
        assert data["reporter_name"] == "张三" and data["content"] == "灌溉渠堵塞"
        assert data["grid"] is world["ta"] and data["channel_name"] == "人大代表转交"
        assert data["contact_record"] is record and "代表甲" in data["note"]
        login(client, make_user("Clerk", world["ta"]))
        page = client.get(f"/contactrecordview/show/{record.id}").get_data(as_text=True)
        assert "由本次联系选民转成的诉求" in page and f"/appealview/add?contact_record={record.id}" in page
        form = client.get(f"/appealview/add?contact_record={record.id}").get_data(as_text=True)
        assert 'value="张三"' in form and "灌溉渠堵塞" in form
        assert f'name="from_contact" type="hidden" value="{record.id}"' in form
        from app.models.appeals import Appeal
        from app.models.lookups import AppealCategory, AppealChannel

        category = db.session.scalar(select(AppealCategory).where(AppealCategory.name == "基础设施"))
        channel = db.session.scalar(select(AppealChannel).where(AppealChannel.name == "人大代表转交"))
        response = client.post(
            "/appealview/add",
            data={"reporter_name": "张三", "content": "灌溉渠堵塞", "channel": str(channel.id),
                  "category": str(category.id), "importance": "general", "grid": str(world["ta"].id),
                  "from_contact": str(record.id)},
        )  # fmt: skip
        assert response.status_code == 302
        appeal = db.session.scalar(select(Appeal).where(Appeal.reporter_name == "张三"))
        assert appeal.contact_record_id == record.id and "人大代表" in appeal.events[0].note
        assert appeal.number in client.get(f"/contactrecordview/show/{record.id}").get_data(as_text=True)
        assert "人大代表转交" in client.get(f"/appealview/show/{appeal.id}").get_data(as_text=True)


def test_progress_pages_are_ranked_in_the_database(app, client, world):
    """Worst first across pages, with the jurisdiction's summary above them."""
    with frozen(TODAY):
        make_contact(world["r1"], date(2026, 3, 5), voter_count=41)  # met
        make_contact(world["r2"], date(2026, 3, 5), voter_count=5)
        extra = make_representative(make_person(world["a1"], name="代表丁"), world["ca"], term=(2021, 2026))
        make_contact(extra, date(2026, 3, 6), voter_count=12)
        old = app.config["REPRESENTATIVE_REPORT_MAX_ROWS"]
        app.config["REPRESENTATIVE_REPORT_MAX_ROWS"] = 2
        try:
            login(client, make_user("Leader", world["ta"]))
            first = client.get("/representativeview/progress/?year=2026").get_data(as_text=True)
            second = client.get("/representativeview/progress/?year=2026&page=2").get_data(as_text=True)
        finally:
            app.config["REPRESENTATIVE_REPORT_MAX_ROWS"] = old
        assert first.index("代表乙") < first.index("代表丁") and "代表甲" not in first
        assert "代表甲" in second and "代表乙" not in second and "代表丙" not in first + second
        # summary: 3 serving, 5 + 12 + 40 (capped) person-times of 120, one met the target
        assert "<strong>3</strong>" in first and "<strong>57</strong> / 120" in first
        assert "第 1 / 2 页" in first and "第 2 / 2 页" in second
        rows = rep_service.progress_overview(db.session, 2026, Representative.id.is_not(None), limit=2, offset=2)
        assert [r.representative.display_name for r in rows] == ["代表丁", "代表甲"]  # 丙 0, 乙 5 before
