"""In a real browser: the IT administrator changes a deadline in 系统参数, sees every mistake of the
group at its field, saves, and restores the default (CSRF on, as in production)."""

from app.extensions import db
from app.security import ADMIN

USERNAME = "e2eadmin"


def _admin(server):
    app = server["app"]
    with app.app_context():
        sm = app.appbuilder.sm
        if sm.find_user(username=USERNAME) is None:
            sm.add_user(USERNAME, "信息", "管理员", "e2eadmin@minqing.local", sm.find_role(ADMIN), server["password"])
            db.session.commit()


def test_admin_changes_a_deadline_and_restores_the_default(as_user, server):
    _admin(server)
    admin = as_user(USERNAME)
    page = admin.go("/settings/")
    assert "系统参数" in page.content() and "一般诉求办理时限" in page.content()
    admin.shot("14-admin-settings")
    page.fill("#APPEAL_DAYS_GENERAL", "七天")
    page.fill("#APPEAL_MONTHS_IMPORTANT", "0")
    with page.expect_navigation():
        page.click("#group-appeals button.btn-primary")
    assert "有 2 处问题需要更正" in page.content()
    assert "请填写整数" in page.locator("#setting-APPEAL_DAYS_GENERAL").inner_text()
    assert "不能小于 1" in page.locator("#setting-APPEAL_MONTHS_IMPORTANT").inner_text()
    admin.shot("15-admin-settings-errors")
    page.fill("#APPEAL_DAYS_GENERAL", "5")
    page.fill("#APPEAL_MONTHS_IMPORTANT", "1")
    with page.expect_navigation():
        page.click("#group-appeals button.btn-primary")
    assert "已保存" in page.content() and "已修改" in page.locator("#setting-APPEAL_DAYS_GENERAL").inner_text()
    assert page.input_value("#APPEAL_DAYS_GENERAL") == "5"
    with page.expect_navigation():
        page.click("#setting-APPEAL_DAYS_GENERAL button[formaction]")
    assert "已恢复默认值" in page.content()
    assert page.input_value("#APPEAL_DAYS_GENERAL") == "7"
