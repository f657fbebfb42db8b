"""`camkeep mqtt`: show, set or turn off the MQTT broker."""

from node.cli._notifications import add_mqtt_arguments as add_arguments
from node.cli._notifications import run_mqtt as run

__all__ = ["add_arguments", "run"]
