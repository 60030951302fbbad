"""Demo appeals, each driven through the real workflow services from registration on."""

from datetime import datetime, timedelta

from sqlalchemy import select

from app.core import clock
from app.demo.records import secretary_of
from app.models.appeals import Appeal
from app.models.grids import Grid
from app.models.lookups import AppealCategory, AppealChannel
from app.models.personnel import Person
from app.services import appeals as svc
from app.services.validators import id_check_char

CONTENTS = {
    "土地": ["反映承包地边界与邻户有争议，要求重新丈量确权。", "反映宅基地审批手续办理进度慢。"],
    "征地拆迁": ["反映征地补偿款尚未足额发放到户。", "询问道路拓宽工程拆迁安置房分配办法。"],
    "劳动保障": ["反映在工地务工被拖欠工资三个月。", "咨询灵活就业人员社保缴费政策。"],
    "环境保护": ["反映村东养殖场异味严重，污水直排沟渠。", "反映夜间有人焚烧垃圾，烟雾扰民。"],
    "社会保障": ["申请低保，家中老人长期患病无劳动能力。", "反映高龄补贴本季度未到账。"],
    "矛盾纠纷": ["邻里因排水沟问题发生口角，请求调解。", "家庭赡养纠纷，子女不履行赡养义务。"],
    "基础设施": [
        "反映村道路灯损坏多处，夜间出行不便。",
        "反映自来水水压低，高峰时段断水。",
        "反映生产路被雨水冲毁，农机无法通行。",
    ],
    "教育医疗": ["反映村卫生室医生不足，看病排队时间长。", "咨询子女转学入学手续。"],
    "治安": ["反映小区电动车多次被盗，请求加强巡逻。", "反映路口无信号灯，存在安全隐患。"],
    "政策咨询": ["咨询农村危房改造补助申请条件。", "咨询新型农村合作医疗报销比例。"],
    "其他": ["建议在村文化广场增设健身器材。", "反映公交班次少，出行不便。"],
}
UNITS = {
    "土地": "国土所",
    "征地拆迁": "征收办",
    "劳动保障": "劳动保障所",
    "环境保护": "环保所",
    "社会保障": "民政所",
    "矛盾纠纷": "司法所",
    "基础设施": "村镇建设办",
    "教育医疗": "卫生院",
    "治安": "派出所",
    "政策咨询": "党政办",
    "其他": "党政办",
}
WORK_UNITS = ["务农", "个体经营", "外出务工", "退休", "县第一中学", "镇卫生院", "无", None, None]
REPLIES = [
    "已会同相关部门现场核实，问题已解决，并当面向反映人说明情况。",
    "已协调责任单位限期整改，整改完成后回访反映人，反映人认可。",
    "已按政策答复反映人，讲清办理条件和流程，并协助准备材料。",
]


def load_demo_appeals(session, rnd, fake, townships, day_zero):
    """About 30 appeals a month for a year, registered by the township clerks and
    driven through the workflow with the clock frozen at each step; what a step
    would do after today is not done, so recent appeals are still open and some
    are overdue. Returns the number of appeals."""

    categories = list(session.scalars(select(AppealCategory).order_by(AppealCategory.sort_order)))
    channels = list(session.scalars(select(AppealChannel).order_by(AppealChannel.sort_order)))
    sm_users = {p.user_id: p for p in session.scalars(select(Person).where(Person.user_id.is_not(None)))}
    # nothing happens after the start of today: the same data for the whole day
    moment_now = datetime.combine(clock.today(), datetime.min.time())

    def actor_for(person):
        return svc.Actor(name=person.name, permissions=frozenset(svc.PERMISSIONS), user_id=person.user_id)

    plans = []
    for township in townships:
        staff = list(session.scalars(select(Person).where(Person.grid_id == township.id).order_by(Person.id)))
        login_clerks = [p for p in staff if p.user_id in sm_users and "录入员" in (p.name or "")]
        clerks = login_clerks or [p for p in staff if p.position == "综治办干事"]
        leader = secretary_of(session, township)
        grids = list(
            session.scalars(
                select(Grid).where(Grid.path.like(f"{township.path}%"), Grid.id != township.id).order_by(Grid.path)
            )
        )
        cadres = {}
        for person in session.scalars(
            select(Person).where(
                Person.grid_id.in_([g.id for g in grids]), Person.position.is_not(None), Person.active.is_(True)
            )
        ):
            cadres.setdefault(person.grid_id, []).append(person)
        for n in range(120):
            span = (moment_now.date() - day_zero).days if n % 10 else 14  # the last two weeks are busier
            registered = datetime.combine(moment_now.date() - timedelta(days=span), datetime.min.time()) + timedelta(
                days=rnd.randint(0, span), minutes=rnd.randint(8 * 60, 18 * 60)
            )
            if registered > moment_now:
                registered = moment_now - timedelta(hours=rnd.randint(1, 48))
            plans.append((registered, township, rnd.choice(clerks), leader, rnd.choice(grids), cadres))
    plans.sort(key=lambda p: p[0])

    count = 0
    recent = []
    for registered, township, clerk, leader, grid, cadres in plans:
        category = rnd.choice(categories)
        important = rnd.random() < 0.2
        birth = f"{rnd.randint(1945, 2000)}{rnd.randint(1, 12):02d}{rnd.randint(1, 28):02d}"
        first17 = f"410100{birth}{rnd.randint(0, 999):03d}"
        appeal = Appeal(
            reporter_name=fake.name(),
            reporter_phone=f"1{rnd.choice('3578')}{rnd.randint(0, 999999999):09d}",
            reporter_address=f"{grid.name}{rnd.randint(1, 80)}号",
            reporter_unit=rnd.choice(WORK_UNITS),
            reporter_id_number=first17 + id_check_char(first17) if rnd.random() < 0.3 else None,
            content=rnd.choice(CONTENTS.get(category.name, CONTENTS["其他"])),
            channel=rnd.choice(channels),
            category=category,
            importance="important" if important else "general",
            grid=grid,
        )
        clerk_actor = actor_for(clerk)
        with clock.frozen(registered):
            svc.register_appeal(session, clerk_actor, appeal)
        count += 1
        _drive_demo_appeal(session, svc, clock, rnd, appeal, registered, moment_now, clerk_actor,
                           actor_for(leader) if leader else clerk_actor, township, cadres, recent)  # fmt: skip
        recent.append(appeal)
        recent[:] = recent[-20:]
        session.commit()
    return count


def _drive_demo_appeal(session, svc, clock, rnd, appeal, t, moment_now, clerk, leader, township, cadres, recent):
    """Walk one demo appeal along a plausible path, each step at its own time."""

    def at(hours):
        nonlocal t
        t = t + timedelta(hours=hours)
        return t <= moment_now

    def step(actor, action, **data):
        with clock.frozen(t):
            svc.perform(session, actor, appeal, action, data)

    roll = rnd.random()
    if roll < 0.02 and recent:  # a second registration of a matter already on file
        original = rnd.choice(recent)
        if at(rnd.uniform(1, 8)) and appeal.status == "registered":
            step(clerk, "duplicate", original=original.number, note="同一事项重复反映")
            if at(rnd.uniform(2, 48)):
                step(clerk, "archive", note="并入原件办理")
        return
    if roll < 0.10:  # answered on the spot
        if at(rnd.uniform(0.2, 1)):
            step(clerk, "resolve_on_spot", reply="当场向反映人解释政策，反映人表示理解。")
            _evaluate_and_archive(rnd, at, step, clerk, f"{township.name}党政办")
        return
    fresh = (moment_now - appeal.registered_at).days < 10
    if fresh and rnd.random() < 0.3:  # still waiting to be assigned
        return
    if (
        (roll < 0.16 or (fresh and roll < 0.3))
        and appeal.grid.parent_id
        and appeal.grid.parent_id != township.parent_id
    ):
        if at(rnd.uniform(2, 30)):
            step(clerk, "escalate", note="涉及多个部门，超出本级办理权限，报上级协调。")
            if fresh and rnd.random() < 0.5:  # waiting for the higher level
                return
    handlers = cadres.get(appeal.grid_id) or cadres.get(appeal.grid.parent_id) or []
    person = rnd.choice(handlers) if handlers and rnd.random() < 0.6 else None
    unit = f"{township.name}{UNITS.get(appeal.category.name, '党政办')}"
    if not at(rnd.uniform(1, 24)):
        return
    step(clerk, "assign", handler_person=person.id if person else "", handler_unit=unit if not person else "",
         note="请按期办结并反馈。")  # fmt: skip
    if not at(rnd.uniform(6, 60)):
        return
    step(clerk, "start")
    if fresh and rnd.random() < 0.35 and at(rnd.uniform(2, 12)):  # waiting for the leader's decision
        step(clerk, "extend", until=(appeal.due_date + timedelta(days=7)).isoformat(), reason="需等待县直部门现场勘验。",
             progress="已联系相关部门，已电话告知反映人预计办结时间。")  # fmt: skip
        return
    if appeal.importance == "important" and rnd.random() < 0.25 and at(rnd.uniform(12, 72)):
        step(leader, "supervise", note="重点关注，请加快办理，按期反馈。")
    days_allowed = (appeal.due_date - appeal.registered_at.date()).days
    late = rnd.random() < 0.18
    stall = rnd.random() < 0.15 and (moment_now - appeal.registered_at).days < 60  # not followed up
    if late and rnd.random() < 0.5:  # asks for more time before the deadline
        ask = clock_to_deadline(appeal, t) - rnd.uniform(24, 48)
        if ask > 0 and at(ask):
            until = appeal.due_date + timedelta(days=rnd.randint(5, 15))
            step(clerk, "extend", until=until.isoformat(), reason="需协调县直部门联合处理。",
                 progress="已完成现场勘查，正在协调资金，已电话告知反映人。")  # fmt: skip
            if at(rnd.uniform(4, 30)):
                if rnd.random() < 0.8:
                    step(leader, "approve_extension", approve="approve", note="同意延期。")
                else:
                    step(leader, "approve_extension", approve="reject", note="事项不复杂，请按原期限办结。")
    if stall:
        return
    hours_to_reply = (days_allowed * rnd.uniform(1.05, 1.6) if late else days_allowed * rnd.uniform(0.2, 0.9)) * 24
    elapsed = (t - appeal.registered_at).total_seconds() / 3600
    if not at(max(2.0, hours_to_reply - elapsed)):
        return
    step(clerk, "feedback", reply=rnd.choice(REPLIES))
    _evaluate_and_archive(rnd, at, step, clerk, f"{township.name}党政办")


def clock_to_deadline(appeal, t):
    """Hours from `t` to the end of the appeal's deadline day."""
    end = datetime.combine(appeal.due_date, datetime.min.time()) + timedelta(days=1)
    return (end - t).total_seconds() / 3600


def _evaluate_and_archive(rnd, at, step, clerk, unit="党政办", reopened=False):
    if not at(rnd.uniform(24, 120)):
        return
    roll = rnd.random()
    if roll < 0.84 or reopened:
        step(clerk, "evaluate", result="satisfied", source="reporter", comment="")
    elif roll < 0.95:
        step(clerk, "evaluate", result="basic", source=rnd.choice(["reporter", "review"]),
             evaluators="村民代表、人大代表", comment="基本解决，希望后续跟踪。")  # fmt: skip
    else:
        step(clerk, "evaluate", result="unsatisfied", source="reporter", comment="问题没有根本解决。")
        if rnd.random() < 0.5 and at(rnd.uniform(12, 48)):
            step(clerk, "reassign", handler_unit=unit, note="反映人不满意，重新交办。")
            if at(rnd.uniform(48, 120)):
                step(clerk, "feedback", reply="重新协调处理，问题已彻底解决，已回访反映人。")
                _evaluate_and_archive(rnd, at, step, clerk, unit, reopened=True)
        return
    if at(rnd.uniform(24, 240)):
        step(clerk, "archive")
