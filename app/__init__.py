"""Sales-pipeline service."""
