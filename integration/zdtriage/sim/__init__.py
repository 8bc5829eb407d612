"""Loopback simulators of the Zendesk Support API and the Anthropic Message Batches API.

Kept apart from the pipeline: nothing in ``integration`` outside this package imports it,
except the CLI commands ``sim`` and ``demo``.
"""
