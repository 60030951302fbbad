"""Lookup lists: their seed values (from DOMAIN.md) and their rules."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core.errors import DomainError
from app.models.lookups import (
    AppealCategory,
    AppealChannel,
    ContactForm,
    GridLevel,
    PersonKind,
    VisitForm,
    VisitTarget,
)
from app.models.personnel import Post
from app.services.grids import references_to
from app.services.quotas import seed_quota_rules
from app.services.rotas import seed_rota_kinds
from app.services.validators import require

# Stored values are Chinese: they are data an administrator edits, not UI strings.
SEED = {
    GridLevel: [("县/区", 0), ("乡镇/街道", 1), ("村/社区", 2), ("村组/楼院/街区", 3)],
    # seed 003: 村组长、楼院长、联户代表 (自治力量) and 协管员 (协管力量); 党代表 beside 人大代表 (两代表工作室, seed 001)
    PersonKind: [
        "县直干部",
        "乡镇干部",
        "村两委干部",
        "网格员",
        "志愿者",
        "群众工作队员",
        "下沉人员",
        "人大代表",
        "党代表",
        "楼院长",
        "联户代表",
        "协管员",
    ],
    AppealCategory: [
        "土地",
        "征地拆迁",
        "劳动保障",
        "环境保护",
        "社会保障",
        "矛盾纠纷",
        "基础设施",
        "教育医疗",
        "治安",
        "政策咨询",
        # seed 003: the six areas each grid screens (网格内六个重点领域)
        "非法生产",
        "非法经营",
        "非法建设",
        "安全生产",
        "信访稳定",
        "基层组织建设",
        "其他",
    ],
    AppealChannel: [
        "入户走访",
        "定点接待",
        "来电",
        "来信",
        "意见箱",
        "电子邮件",
        "说事点",
        "人大代表转交",
        "网格巡查",
    ],
    VisitForm: ["登门上户", "定点接待", "重点约谈", "定期回访", "夜访", "座谈会"],
    VisitTarget: ["上访人员", "矛盾纠纷当事人", "困难群体", "重大变故家庭", "一般群众", "农户", "住户", "商户"],
    ContactForm: ["走访", "选民座谈会", "代表工作室接待", "代表联络站接待", "电话", "网络/微信"],
}

POSTS = [
    # name, level name, duty, reward/penalty, responsible, packaging
    (
        "第一责任人",
        None,
        "本级党政主要负责人对本级网格化管理负总责，统筹调度、督促检查（县为县委、县政府主要负责人，乡镇街道为党政主要领导）。",
        "年终考核与网格工作实绩挂钩；工作不力、发生重大问题的，依规追责。",
        True,
        False,
    ),
    (
        "包村领导",
        "村/社区",
        "分包联系村（社区），每月至少入村走访，协调解决重点难点问题。",
        "履职情况纳入年度考核；问题久拖不决的，予以通报。",
        False,
        True,
    ),
    (
        "第一书记",
        "村/社区",
        "副科级以上干部担任，对本村（社区）网格工作负第一责任。",
        "按年度考核定等次，与评先评优挂钩。",
        True,
        False,
    ),
    (
        "直接责任人",
        "村/社区",
        "村（社区）党支部书记、主任具体负责网格日常管理和问题处置。",
        "考核结果与绩效报酬挂钩；瞒报漏报的，扣减报酬。",
        True,
        False,
    ),
    (
        "首席民警",
        "村/社区",
        "村（社区）警务室首席民警兼任支部副书记，承担矛盾纠纷排查化解、治安防控等相关责任。",
        "按公安机关考核办法执行，履职情况纳入村（社区）网格考核。",
        True,
        False,
    ),
    (
        "网格长",
        "村组/楼院/街区",
        "由工作人员或热心居民担任，负责本网格信息采集、问题发现和上报。",
        "按月考核发放补贴；问题发现及时、处置到位的，给予奖励。",
        True,
        False,
    ),
    ("网格员", None, "巡查走访，收集民情，协助处理网格内事务。", "按月考核发放补贴。", False, False),
    ("工作人员", None, "录入登记、跟踪办理，在本网格范围内开展工作。", "按单位考核办法执行。", False, False),
]


def seed_lookups(session):
    """Insert the seed values that are missing; never overwrite an administrator's edits."""
    for model, values in SEED.items():
        existing = set(session.scalars(select(model.name)))
        for order, value in enumerate(values):
            if model is GridLevel:
                name, rank = value
                if name not in existing and session.scalar(select(GridLevel.id).where(GridLevel.rank == rank)) is None:
                    session.add(GridLevel(name=name, rank=rank, sort_order=order))
            elif value not in existing:
                session.add(model(name=value, sort_order=order))
    session.flush()
    levels = {lv.name: lv for lv in session.scalars(select(GridLevel))}
    existing_posts = set(session.scalars(select(Post.name)))
    for order, (name, level, duty, reward, responsible, packaging) in enumerate(POSTS):
        if name in existing_posts:
            continue
        session.add(
            Post(
                name=name,
                level=levels.get(level) if level else None,
                duty=duty,
                reward_penalty=reward,
                is_responsible=responsible,
                is_packaging=packaging,
                sort_order=order,
            )
        )
    session.flush()

    seed_quota_rules(session)
    seed_rota_kinds(session)


def validate_lookup(session, item):
    model = type(item)
    item.name = require(item.name, _l("Enter a name."), "name")
    with session.no_autoflush:
        clash = session.scalar(select(model.id).where(model.name == item.name, model.id != (item.id or 0)))
        if clash:
            raise DomainError(_l("%(name)s is already in the list.", name=item.name), field="name")
        if model is GridLevel:
            if item.rank is None or not -9 <= item.rank <= 99:
                raise DomainError(
                    _l(
                        "Enter the level's rank: 0 for the county, one more for each level below, -1 for a city above it."
                    ),
                    field="rank",
                )
            taken = session.scalar(
                select(GridLevel.name).where(GridLevel.rank == item.rank, GridLevel.id != (item.id or 0))
            )
            if taken:
                raise DomainError(
                    _l("Rank %(rank)s is already used by %(name)s.", rank=item.rank, name=taken), field="rank"
                )


def check_lookup_deletable(session, item):
    if references_to(session, type(item).__tablename__, item.id):
        raise DomainError(_l("%(name)s is in use; mark it inactive instead of deleting it.", name=item.name))
