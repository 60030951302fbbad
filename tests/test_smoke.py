from tests.conftest import login
from tests.factories import make_user, tree


def test_admin_sees_grid_list_in_chinese(client):
    t = tree()
    admin = make_user("Admin")
    login(client, admin)
    body = client.get("/gridview/list/").get_data(as_text=True)
    assert "网格" in body and t["a1"].name in body
