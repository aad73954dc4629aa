"""Gemini API (Google AI Studio): API key in the ``x-goog-api-key`` header.

An API key only sees its own Google Cloud project's resources; token-level usage lives in Cloud
Monitoring and request logs in AI Studio, neither reachable with the key. What the key does
show (files uploaded, batch jobs and context caches, each naming its model) is what this
connector reads for shadow-AI detection.

Docs: https://ai.google.dev/gemini-api/docs
Rate limits: https://ai.google.dev/gemini-api/docs/rate-limits
"""
from .base import CatalogEntry, Connector, RateLimits, Stream


class GeminiApiConnector(Connector):
    implemented = False

    catalog = CatalogEntry(
        type="gemini_api",
        display_name="Gemini API",
        category="ai",
        auth_method="api_key",
        description=("Gemini API activity of a Google project: uploaded files, batch jobs and context "
                     "caches with the models they use, for shadow-AI detection."),
        docs_url="https://ai.google.dev/gemini-api/docs",
        streams=(
            Stream("files", "ai_file", "Files uploaded through the Files API"),
            Stream("batches", "ai_batch_job", "Batch jobs with their model and request counts"),
            Stream("cached_contents", "ai_context_cache", "Context caches with their model"),
            Stream("models", "ai_model", "Models available to the project"),
        ),
        # Limits are per project, per model and usage tier (requests/tokens per minute, requests
        # per day; the free tier is 5-15 RPM); listing calls have no separately published limit.
        rate_limits=RateLimits(requests_per_minute=60),
        api_url="https://generativelanguage.googleapis.com",
    )
