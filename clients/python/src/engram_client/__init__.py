"""engram-client: the Python client of engram, the long-term memory server
for LLM agents.

    from engram_client import EngramClient
    with EngramClient("http://127.0.0.1:8080", api_key=KEY) as engram:
        engram.memories.add("Alice works at the Acme bakery.", user_id="alice")
        print(engram.context("Where does Alice work?", filters={"user_id": "alice"}).context)
"""

__version__ = "0.1.0"

from .client import AsyncEngramClient, EngramClient  # noqa: E402
from ._transport import RetryPolicy  # noqa: E402
from .errors import (  # noqa: E402
    ApiError,
    BadRequest,
    BudgetExceeded,
    Conflict,
    EngramError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    TransportError,
    Unauthorized,
    Unavailable,
)
from .models import (  # noqa: E402
    Answer,
    BatchResult,
    Budget,
    Citation,
    Context,
    Conversation,
    Filters,
    Folder,
    History,
    ImportJob,
    Job,
    Key,
    Memory,
    Message,
    NewMemory,
    Page,
    SearchResponse,
    SearchResult,
    Tenant,
    Usage,
    UsageItem,
)

__all__ = [
    "AsyncEngramClient", "EngramClient", "RetryPolicy",
    "ApiError", "BadRequest", "BudgetExceeded", "Conflict", "EngramError", "Forbidden",
    "NotFound", "PayloadTooLarge", "RateLimited", "TransportError", "Unauthorized",
    "Unavailable",
    "Answer", "BatchResult", "Budget", "Citation", "Context", "Conversation", "Filters",
    "Folder", "History", "ImportJob", "Job", "Key", "Memory", "Message", "NewMemory", "Page",
    "SearchResponse", "SearchResult", "Tenant", "Usage", "UsageItem",
]
