"""Document-level access: who may read each document, and what an asker may read.

See ``access.service`` for the model and ``README.md`` ("Access") for what each connector maps.
"""
