"""The agent inside the guest: ``python3 -m agent.guest`` (docs/agent.md).

Stdlib of python3-minimal only, no psutil: /proc and ioctls are read directly.
"""
