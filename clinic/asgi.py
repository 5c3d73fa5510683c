"""ASGI entry point (served by uvicorn): HTTP through Django, WebSockets through Channels."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
# Under ASGI a persistent connection belongs to one request's thread and is never closed; the
# web process borrows from a connection pool instead (settings: DATABASE_POOL_*).
os.environ.setdefault("DATABASE_POOL", "true")

# Django must be set up before anything imports models (the routing and its consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from clinic.body_limit import BodySizeLimit  # noqa: E402
from clinic.health import LivenessProbe  # noqa: E402
from clinic.heap import settle_heap  # noqa: E402
from clinic.routing import websocket_urlpatterns  # noqa: E402
from clinic.two_factor import RequireTwoFactorWebSocketMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": LivenessProbe(BodySizeLimit(django_asgi_app)),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(
                RequireTwoFactorWebSocketMiddleware(URLRouter(websocket_urlpatterns))
            )
        ),
    }
)

settle_heap()
