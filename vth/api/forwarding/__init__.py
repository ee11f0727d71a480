"""Forwarding alerts into the inspection workflow: one module per kind of target."""
