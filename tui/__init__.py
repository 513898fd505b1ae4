"""The nextword-tui terminal app (Textual) and its command line."""
