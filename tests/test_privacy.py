"""Personal numbers (phones, ID numbers of reporters and people visited) are masked for
roles without the sensitive-data permission: in pages, prints, the API and exports."""

import io

import pytest
from openpyxl import load_workbook

from app.services import privacy
from tests.conftest import api_token, login
from tests.factories import make_appeal, make_user, tree

PHONE, ID = "13812345678", "41010219800101123X"


@pytest.fixture
def appeal():
    t = tree()
    return t, make_appeal(t["a1"], reporter_phone=PHONE, reporter_id_number=ID, reporter_name="隐私甲")


def test_masks_look_as_people_expect():
    assert privacy.mask_phone(PHONE) == "138****5678"
    assert privacy.mask_id_number(ID) == "4101**********123X"
    assert privacy.mask_id_number("410102198001011234") == "4101**********1234"


@pytest.mark.parametrize("role,full", [("Clerk", True), ("GridWorker", True), ("Leader", False)])
def test_appeal_numbers_per_role(client, appeal, role, full):
    t, item = appeal
    user = make_user(role, t["ta"] if role != "GridWorker" else t["a1"])
    login(client, user)
    pages = [
        client.get(f"/appealview/show/{item.id}").get_data(as_text=True),
        client.get(f"/appealview/print/{item.id}/register").get_data(as_text=True),
    ]
    api = client.get(f"/api/v1/appeal/{item.id}", headers=api_token(client, user)).json["result"]
    export = load_workbook(io.BytesIO(client.get("/appealview/export/").data)).active
    cells = [str(c.value) for row in export.iter_rows() for c in row if c.value is not None]
    for text in pages:
        assert (PHONE in text) is full and (ID in text) is full
        if not full:
            assert "138****5678" in text
    assert "4101**********123X" in pages[1] or full
    assert api["reporter_phone"] == (PHONE if full else "138****5678")
    assert api["reporter_id_number"] == (ID if full else "4101**********123X")
    assert (PHONE in cells) is full and ("隐私甲" in cells)


@pytest.mark.parametrize("role,full", [("Clerk", True), ("Leader", False)])
def test_a_masked_number_cannot_be_found_by_searching_for_it(client, appeal, role, full):
    """Searching by phone would let someone guess a masked number digit by digit: the condition
    is dropped (with a message) for roles that may not read the numbers, in the list, export and API."""
    t, item = appeal
    make_appeal(t["a1"], reporter_phone="13900000000", reporter_name="隐私乙")
    user = make_user(role, t["ta"])
    login(client, user)
    html = client.get("/appealview/list/?_flt_2_reporter_phone=1381234").get_data(as_text=True)
    export = load_workbook(io.BytesIO(client.get("/appealview/export/?_flt_2_reporter_phone=1381234").data)).active
    names = [row[2].value for row in export.iter_rows(min_row=2)]
    q = "(filters:!((col:reporter_phone,opr:ct,value:'1381234')))"
    api = client.get(f"/api/v1/appeal/?q={q}", headers=api_token(client, user)).json
    offered = 'name="reporter_phone" class="filter"' in html
    search_form = html.split("new AdminFilters", 1)[1].split(");", 1)[0]  # its choices and active conditions
    if full:
        assert "隐私甲" in html and "隐私乙" not in html
        assert names == ["隐私甲"] and api["count"] == 1
        assert offered and '"reporter_phone"' in search_form
    else:
        assert "隐私甲" in html and "隐私乙" in html  # the search did not narrow anything
        assert "需要有完整查看的权限" in html
        # nor is it offered again: neither in the "add filter" menu nor as an active condition
        assert not offered and "reporter_phone" not in search_form
        assert 'name="reporter_name" class="filter"' in html
        assert sorted(names) == ["隐私乙", "隐私甲"] and api["count"] == 2
