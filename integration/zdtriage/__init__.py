"""zendesk-batch-triage: triage Zendesk tickets with Claude through the Message Batches API."""

__version__ = "0.1.0"
