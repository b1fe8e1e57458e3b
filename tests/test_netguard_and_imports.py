"""The loopback-only switch, and the core's import hygiene."""

import subprocess
import sys

import pytest

from cutover_tui.errors import NetworkPolicyError, SSHError
from cutover_tui.remote.droplets import DropletAPI
from cutover_tui.remote.ssh import SSHPool, SSHTarget
from cutover_tui.remote.web import Web

# TEST-NET-1 (RFC 5737): never routed. The guard must refuse before trying.
OUTSIDE = "192.0.2.10"


async def test_ssh_to_a_non_loopback_address_fails_before_connecting():
    pool = SSHPool({"x": SSHTarget("x", OUTSIDE, 22)})
    with pytest.raises(NetworkPolicyError, match="only loopback"):
        await pool.run("x", "true")


async def test_http_to_a_non_loopback_address_fails_before_connecting():
    with pytest.raises(NetworkPolicyError, match="CUTOVER_LOOPBACK_ONLY"):
        await Web().request("GET", f"http://{OUTSIDE}:8123/health")


def test_the_droplet_api_refuses_a_non_loopback_base_url():
    with pytest.raises(NetworkPolicyError, match="refusing to connect to api.digitalocean.com"):
        DropletAPI("token", "https://api.digitalocean.com")


async def test_loopback_is_allowed():
    with pytest.raises(SSHError, match="connection refused"):
        await SSHPool({"x": SSHTarget("x", "127.0.0.1", 1)}).run("x", "true")


def test_ensure_allowed_refuses_an_outside_address_without_a_network_call():
    # What the mutation pass disables first: refusing here means no packet is ever sent.
    from cutover_tui.netguard import ensure_allowed

    with pytest.raises(NetworkPolicyError, match=r"refusing to connect to 192\.0\.2\.10"):
        ensure_allowed(OUTSIDE, "a test")
    ensure_allowed("127.0.0.5", "a test")  # loopback stays allowed


def _imported_after(code: str) -> set[str]:
    probe = code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    return set(out.split())


def test_the_core_does_not_import_textual():
    modules = _imported_after(
        "import pkgutil, importlib, cutover_tui\n"
        "for m in pkgutil.walk_packages(cutover_tui.__path__, 'cutover_tui.'):\n"
        "    importlib.import_module(m.name)\n")
    assert "cutover_tui.sandbox.world" in modules and "cutover_tui.engine" in modules
    assert not any(m == "textual" or m.startswith("textual.") for m in modules)


def test_help_and_validate_import_nothing_heavy(m11_path):
    modules = _imported_after(
        "from click.testing import CliRunner\nfrom cutover_tui.cli import main\n"
        f"r = CliRunner().invoke(main, ['validate', {str(m11_path)!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        "CliRunner().invoke(main, ['--help'])\n")
    for heavy in ("textual", "asyncssh", "pydo", "azure", "httpx"):
        assert heavy not in modules, heavy
