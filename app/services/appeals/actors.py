"""Who acts on an appeal: an `Actor` (name, login, permissions of the "Appeal" resource).

Permissions are extras on the "Appeal" resource (can_assign, can_handle ...). Services
take an Actor instead of a request; the views build it from the logged-in user
(app.views.appeals.current_actor)."""

from __future__ import annotations

from dataclasses import dataclass, field

RESOURCE = "Appeal"
READ, WRITE = "read", "write"
ASSIGN = "assign"  # 交办, 重新交办
HANDLE = "handle"  # 开始办理, 当场解决, 反馈, 上报, 申请延期
EVALUATE = "evaluate"  # 评议 (record the reporter's or a review's judgement)
ARCHIVE = "archive"  # 归档
SUPERVISE = "supervise"  # 督办 (leaders)
APPROVE = "approve"  # 审批延期 (leaders)
ACTION_PERMISSIONS = (ASSIGN, HANDLE, EVALUATE, ARCHIVE, SUPERVISE, APPROVE)
PERMISSIONS = (READ, WRITE) + ACTION_PERMISSIONS


@dataclass(frozen=True)
class Actor:
    """Who performs a step: the name printed on the timeline and forms, the login
    (if any) and the Appeal permissions (without the "can_" prefix)."""

    name: str
    permissions: frozenset = field(default_factory=frozenset)
    user_id: int | None = None

    def can(self, permission):
        return permission in self.permissions


def system_actor(name="系统"):
    """For the CLI and the demo: every permission, no login."""
    return Actor(name=name, permissions=frozenset(PERMISSIONS))
