"""Host telemetry: a plain dict for the node's record."""

import json

from hypervisor.telemetry import host_resources, process_usage


def test_host_resources_is_plain_data_with_the_scheduler_fields(tmp_path):
    res = host_resources({"local": str(tmp_path)}, {"kvm": False, "accel": "tcg"})
    json.dumps(res)  # plain data only
    assert res["cpus"] >= 1 and res["memory_mib"] > 0
    assert res["kvm"] is False and res["accel"]["accel"] == "tcg"
    assert res["pools"]["local"]["total_bytes"] > 0
    assert any(n["name"] == "lo" for n in res["nics"])
    assert len(res["load"]) == 3


def test_process_usage():
    u = process_usage()
    assert u["rss_mb"] > 1 and u["cpu_s"] >= 0
