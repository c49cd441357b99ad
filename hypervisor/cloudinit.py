"""cloud-init NoCloud seeds: the documents (pure) and the ISO (the pycdlib adapter).

The seed is an ISO 9660 image labelled ``cidata`` holding ``user-data``,
``meta-data`` and ``network-config`` (Joliet and Rock Ridge names, so the
guest sees the real file names). ``read_seed`` reads one back (tests, support).
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pycdlib

from hypervisor.errors import HypervisorError, OperationFailed
from hypervisor.spec import CloudInitSpec

SEED_FILES = ("user-data", "meta-data", "network-config")
_ISO_NAMES = {
    "user-data": "/USERDATA.;1",
    "meta-data": "/METADATA.;1",
    "network-config": "/NETWORKC.;1",
}


def _yaml_str(s: str) -> str:
    # JSON strings are valid YAML scalars: no hand-rolled quoting rules.
    return json.dumps(s)


def user_data(ci: CloudInitSpec) -> str:
    """The #cloud-config document (or the caller's own user-data, verbatim)."""
    if ci.user_data is not None:
        return ci.user_data
    lines = ["#cloud-config", f"hostname: {_yaml_str(ci.hostname)}", "preserve_hostname: false"]
    lines.append("users:")
    lines.append("  - default")
    if ci.ssh_keys or ci.password_hash:
        lines.append("  - name: quantix")
        lines.append("    groups: [sudo]")
        lines.append("    shell: /bin/bash")
        lines.append("    sudo: ALL=(ALL) NOPASSWD:ALL")
        if ci.password_hash:
            lines.append(f"    passwd: {_yaml_str(ci.password_hash)}")
            lines.append("    lock_passwd: false")
        if ci.ssh_keys:
            lines.append("    ssh_authorized_keys:")
            lines.extend(f"      - {_yaml_str(k)}" for k in ci.ssh_keys)
    if ci.ssh_keys:
        lines.append("ssh_authorized_keys:")
        lines.extend(f"  - {_yaml_str(k)}" for k in ci.ssh_keys)
    lines.append(f"ssh_pwauth: {'true' if ci.password_hash else 'false'}")
    if ci.install_agent:
        lines += agent_install_lines()
    return "\n".join(lines) + "\n"


def agent_install_lines() -> list[str]:
    """cloud-config that installs the guest agent's .deb (carried in the seed,
    so no repository is needed): python3-minimal first if the image lacks it."""
    from agent.dist.deb import deb_bytes

    deb = base64.b64encode(deb_bytes()).decode()
    path = "/var/lib/quantix-agent/quantix-agent.deb"
    install = (
        "command -v python3 >/dev/null || apt-get install -y python3-minimal; "
        f"dpkg -i {path} && systemctl enable --now quantix-agent.service || true"
    )
    return [
        "write_files:",
        f"  - path: {path}",
        "    encoding: b64",
        "    permissions: '0644'",
        f"    content: {deb}",
        "runcmd:",
        f"  - [sh, -c, {_yaml_str(install)}]",
    ]


def meta_data(vm_id: str, ci: CloudInitSpec) -> str:
    return f"instance-id: {_yaml_str(vm_id)}\nlocal-hostname: {_yaml_str(ci.hostname)}\n"


def network_config(ci: CloudInitSpec) -> str:
    """Network config v2: DHCP on every ethernet NIC unless the caller gave one."""
    if ci.network_config is not None:
        return ci.network_config
    return (
        "version: 2\n"
        "ethernets:\n"
        "  all:\n"
        "    match:\n"
        '      name: "e*"\n'
        "    dhcp4: true\n"
        "    dhcp6: false\n"
    )


def seed_documents(vm_id: str, ci: CloudInitSpec) -> dict[str, str]:
    return {
        "user-data": user_data(ci),
        "meta-data": meta_data(vm_id, ci),
        "network-config": network_config(ci),
    }


def build_seed_iso(docs: dict[str, str]) -> bytes:
    """The NoCloud ISO (label ``cidata``) holding the given documents."""
    iso = pycdlib.PyCdlib()
    try:
        iso.new(interchange_level=3, vol_ident="cidata", joliet=3, rock_ridge="1.09")
        for name in SEED_FILES:
            body = docs.get(name, "").encode()
            iso.add_fp(
                io.BytesIO(body),
                len(body),
                _ISO_NAMES[name],
                rr_name=name,
                joliet_path="/" + name,
            )
        out = io.BytesIO()
        iso.write_fp(out)
        return out.getvalue()
    except pycdlib.pycdlibexception.PyCdlibException as e:
        raise OperationFailed(f"cannot build the cloud-init seed: {e}") from None
    finally:
        iso.close()


def build_iso(label: str, files: dict[str, bytes]) -> bytes:
    """An ISO 9660 image (Joliet and Rock Ridge names) of ``files`` at its root."""
    iso = pycdlib.PyCdlib()
    try:
        iso.new(interchange_level=3, vol_ident=label, joliet=3, rock_ridge="1.09")
        for i, (name, body) in enumerate(sorted(files.items())):
            iso.add_fp(
                io.BytesIO(body), len(body), f"/F{i}.;1", rr_name=name, joliet_path="/" + name
            )
        out = io.BytesIO()
        iso.write_fp(out)
        return out.getvalue()
    except pycdlib.pycdlibexception.PyCdlibException as e:
        raise OperationFailed(f"cannot build the ISO {label}: {e}") from None
    finally:
        iso.close()


def write_seed(path: Path, vm_id: str, ci: CloudInitSpec) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(build_seed_iso(seed_documents(vm_id, ci)))
    tmp.replace(path)


def read_seed(data: bytes) -> dict[str, object]:
    """{"volume_id": label, "files": {joliet name: text}, "rr_names": [...]}."""
    iso = pycdlib.PyCdlib()
    try:
        iso.open_fp(io.BytesIO(data))
        label = iso.pvd.volume_identifier.decode().strip()
        files: dict[str, str] = {}
        rr: list[str] = []
        for child in iso.list_children(joliet_path="/"):
            if child.is_dot() or child.is_dotdot():
                continue
            name = child.file_identifier().decode("utf-16_be")
            out = io.BytesIO()
            iso.get_file_from_iso_fp(out, joliet_path="/" + name)
            files[name] = out.getvalue().decode()
        for child in iso.list_children(rr_path="/"):
            if child.is_dot() or child.is_dotdot():
                continue
            rr.append(child.rock_ridge.name().decode())
        return {"volume_id": label, "files": files, "rr_names": sorted(rr)}
    except pycdlib.pycdlibexception.PyCdlibException as e:
        raise HypervisorError(f"not a readable ISO: {e}") from None
    finally:
        iso.close()
