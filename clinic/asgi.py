"""ASGI entry point (served by uvicorn): HTTP through Django, WebSockets through Channels."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
# Under ASGI every request has a database connection of its own, which a persistent-connection
# age never lets Django close: it lingers until the garbage collector finds it, and a busy
# server runs Postgres out of connections. Django's advice: no persistent connections here.
os.environ.setdefault("DATABASE_CONN_MAX_AGE_S", "0")

# Django must be set up before anything imports models (the routing and its consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from clinic.body_limit import BodySizeLimit  # noqa: E402
from clinic.routing import websocket_urlpatterns  # noqa: E402
from clinic.two_factor import RequireTwoFactorWebSocketMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodySizeLimit(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(
                RequireTwoFactorWebSocketMiddleware(URLRouter(websocket_urlpatterns))
            )
        ),
    }
)
