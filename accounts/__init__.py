"""Workspaces (tenants), users, memberships, API keys and sign-in."""
