"""The alert API: app factory, routers and the alert store."""
