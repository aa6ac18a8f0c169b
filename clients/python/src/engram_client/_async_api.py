"""The async client's resources. At run time they are the classes of
_api.py (the async client's ``_send`` makes each call awaitable); type
checkers read _async_api.pyi instead, where each method is ``async def``."""

from ._api import Admin as AsyncAdmin
from ._api import Api as AsyncApi
from ._api import Budgets as AsyncBudgets
from ._api import Conversations as AsyncConversations
from ._api import Imports as AsyncImports
from ._api import Jobs as AsyncJobs
from ._api import Keys as AsyncKeys
from ._api import Memories as AsyncMemories
from ._api import Tenants as AsyncTenants
from ._api import _Resource as AsyncResource

__all__ = [
    "AsyncAdmin", "AsyncApi", "AsyncBudgets", "AsyncConversations", "AsyncImports",
    "AsyncJobs", "AsyncKeys", "AsyncMemories", "AsyncResource", "AsyncTenants",
]  # fmt: skip
