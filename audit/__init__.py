"""The audit trail: every change and sign-in, recorded in the same transaction as the change."""
