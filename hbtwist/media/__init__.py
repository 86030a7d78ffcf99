"""Media: the plugin interface, the built-in UDP and serial media, and their registry."""
