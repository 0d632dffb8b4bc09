"""Real HTTP servers on 127.0.0.1 that speak the documented APIs of the services we call.

Integration tests drive the real client libraries against them, with scripted faults
(rate limits, server errors, slow or dropped responses) instead of mocks.
"""
