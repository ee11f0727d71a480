"""The revisions of the alert store's schema, oldest first by their number."""
