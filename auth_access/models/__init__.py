"""Access control: cards, seen cards, permissions, policies, decisions, remote starts, reservations,
local lists."""

from auth_access.models.cards import ChargeCard, SeenCard, id_tag_validator, normalize_id_tag
from auth_access.models.local_list import LocalListState
from auth_access.models.permissions import ChargerPermission
from auth_access.models.policy import AccessPolicy
from auth_access.models.records import AuthorizationRecord, RemoteStart
from auth_access.models.reservations import Reservation

__all__ = [
    "AccessPolicy",
    "AuthorizationRecord",
    "ChargeCard",
    "ChargerPermission",
    "LocalListState",
    "RemoteStart",
    "Reservation",
    "SeenCard",
    "id_tag_validator",
    "normalize_id_tag",
]
