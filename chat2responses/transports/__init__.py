"""Upstream transports: the Responses WebSocket client and the loopback bridge."""
