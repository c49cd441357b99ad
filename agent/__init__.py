"""The Quantix guest agent: the wire format both sides share (``agent.wire``,
``agent.frames``) and the program that runs inside a guest (``agent.guest``).

Everything under ``agent/`` runs on Debian's ``python3-minimal``: no json, hmac,
asyncio, shutil, tempfile or dataclasses (docs/agent.md lists what it lacks).
The host's side of the connection is ``hypervisor.agent_channel``; its policy
(handshake, heartbeat, status) is ``peer.agent``.
"""

__version__ = "1.0.0"
