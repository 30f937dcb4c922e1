"""The cloud side: ``ChatOpenAI`` wiring, and a local OpenAI-compatible stand-in behind a WAN.

Nothing here imports fastapi or uvicorn until a server is built, so importing this package is cheap.
"""

from langchain_netgpt.cloud.client import (
    DEFAULT_CLOUD_MODEL,
    LOCAL_API_KEY,
    cloud_from_env,
    local_cloud,
)
from langchain_netgpt.cloud.local import LocalServer, serve
from langchain_netgpt.cloud.security import SecurityMiddleware, ServeSecurity
from langchain_netgpt.cloud.server import create_app
from langchain_netgpt.cloud.wan import (
    LinkQueue,
    WanEmulator,
    WanMiddleware,
    WanProfile,
    one_way_delay_s,
    transfer_time_s,
)

__all__ = [
    "DEFAULT_CLOUD_MODEL",
    "LOCAL_API_KEY",
    "LinkQueue",
    "LocalServer",
    "SecurityMiddleware",
    "ServeSecurity",
    "WanEmulator",
    "WanMiddleware",
    "WanProfile",
    "cloud_from_env",
    "create_app",
    "local_cloud",
    "one_way_delay_s",
    "serve",
    "transfer_time_s",
]
