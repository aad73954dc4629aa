"""Agentic actions: typed operations executed on connected tools, with plans, policies and approvals."""
