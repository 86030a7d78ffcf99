"""`make demo`: a three-node hbtwist cluster on loopback moving a service, no root needed."""
