"""`camkeep webhooks`: list, add, delete webhooks."""

from node.cli._notifications import add_webhook_arguments as add_arguments
from node.cli._notifications import run_webhooks as run

__all__ = ["add_arguments", "run"]
