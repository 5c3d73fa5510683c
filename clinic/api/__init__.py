"""The REST API (`/api/v1/`): serializers, views, one exception handler with coded errors."""
