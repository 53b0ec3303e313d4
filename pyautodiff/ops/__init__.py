"""Op implementations: each op is one Node subclass (forward + backward together)."""
