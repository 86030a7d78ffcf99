"""Running resource agents: scripts and OCF agents as child processes, and the native virtual IP."""
