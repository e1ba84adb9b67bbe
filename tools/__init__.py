"""Command-line tools that sit beside the app: replay, show, demo, send_event, azurite."""
