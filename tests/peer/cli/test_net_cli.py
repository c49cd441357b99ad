"""The CLI's short forms for NICs and security-group rules."""

from peer.cli.commands.storage import _rule
from peer.cli.commands.vm import _nic


def test_nic_forms():
    assert _nic("blue") == {"network": "blue"}
    assert _nic("blue:10.60.0.5") == {"network": "blue", "ip": "10.60.0.5"}
    assert _nic("blue::web,db") == {"network": "blue", "groups": ["web", "db"]}


def test_rule_forms():
    assert _rule("tcp:443") == {"protocol": "tcp", "port_min": 443, "port_max": 443}
    assert _rule("udp:5000-5100@10.0.0.0/8") == {
        "protocol": "udp", "port_min": 5000, "port_max": 5100, "cidr": "10.0.0.0/8"}  # fmt: skip
    assert _rule("any@group:web") == {"protocol": "any", "group": "web"}
    assert _rule("icmp") == {"protocol": "icmp"}
