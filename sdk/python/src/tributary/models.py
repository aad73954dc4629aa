"""Every model of the API, generated from its OpenAPI document (``_models``, see sdk/generate.py)."""
from ._models import *  # noqa: F401,F403
