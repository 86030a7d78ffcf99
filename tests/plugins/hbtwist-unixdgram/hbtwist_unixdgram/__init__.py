"""hbtwist-unixdgram: heartbeats over UNIX datagram sockets (`unixdgram OWN-PATH PEER-PATH`)."""
