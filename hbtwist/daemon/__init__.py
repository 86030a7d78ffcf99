"""The daemon: twistd options and wiring, the node service and the state store."""
