"""What tests import to wait on a condition and to call a peer's local API.

The implementations live in ``testkit`` (shared with the benches, see its
docstring); this module is the tests' one import point for them.
"""

from testkit.localapi import LocalApi
from testkit.wait import WaitTimeout, async_wait_for, wait_for

__all__ = ["LocalApi", "WaitTimeout", "async_wait_for", "wait_for"]
