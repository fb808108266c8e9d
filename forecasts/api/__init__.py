"""Forewarn's REST API: JSON over HTTP for dashboards and scripts, described by an OpenAPI schema."""
