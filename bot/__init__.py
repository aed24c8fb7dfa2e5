"""The edges: terminal, Slack and Teams adapters, the aiohttp app, the scheduler and the CLI."""
