"""Feature packages: each one is a discord.py extension with a ``setup`` function."""
