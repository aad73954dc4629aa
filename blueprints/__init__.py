"""HTTP surfaces only: parse, call the domain, render or serialize."""
