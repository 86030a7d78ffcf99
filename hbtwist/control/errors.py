"""The control protocol's errors, free of Twisted: the daemon raises them (`protocol` names their
wire codes) and both clients, Twisted's and the blocking one of `ampsocket`, raise the same
classes for the codes they receive."""


class UnknownNode(Exception):
    """The named node is not in this daemon's membership."""


class UnknownLink(Exception):
    """The named node has no link of that name."""


class BadRequest(Exception):
    """The arguments are out of range (a negative offset, a limit below 1, ...)."""


class BadMessage(Exception):
    """A cluster message cannot be sent as given (a bad field, a reserved type, too big...)."""


class QueueFull(Exception):
    """The daemon's send queue is full: nothing of this request was queued; try again later."""
