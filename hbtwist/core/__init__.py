"""Sans-IO cores: membership, heartbeats and sequencing, driven by messages and an injected clock."""
