"""Integration tests: real daemons in a lab of network namespaces (see doc/testing.md)."""
