"""Connections: established, authorized instances of a connector in a workspace."""
