"""Cross-cutting pieces every domain package uses: extensions, config, vault, column types, errors."""
