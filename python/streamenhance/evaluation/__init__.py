"""Quality evaluation under published protocols."""
