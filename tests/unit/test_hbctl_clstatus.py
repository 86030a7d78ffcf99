"""cl_status-compatible sub-commands: exact output (tabs included) and exit statuses (spec 9.4).

Node alpha of a simulated three-node cluster is asked in memory: beta is active with its eth1
medium cut (link dead), gamma has crashed (dead). The nodes are configured as
alpha, beta, gamma and the media as eth0, eth1: cl_status lists both in reverse.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from hbtwist import __version__
from hbtwist.cli import clstatus
from hbtwist.cli.main import build_parser, main
from hbtwist.cli.remote import control_target
from hbtwist.control.client import Unreachable
from hbtwist.control.view import NodeView
from tests.conftest import THREE_NODE_HA_CF, write_config
from tests.doubles.control import FakeNode, connect_in_memory, run_pumped
from tests.simnet import SimNet

HBVERSION = f"3.0.6 (hbtwist {__version__})"

VERBOSE_NODES = (
    "\ngamma\tdead\t(nodetype: normal)\n\teth1\tdead\n\teth0\tdead\n"
    "\nbeta\tactive\t(nodetype: normal)\n\teth1\tdead\n\teth0\tup\n"
    "\nalpha\tactive\t(nodetype: normal)\n\teth1\tdead\n\teth0\tdead\n"
)
LINKS_HEADER = "\tthis node has the following heartbeat links:\n"
HUMAN_VERBOSE_NODES = (
    "The nodes are as follow:\n"
    f"\ngamma\tdead\t(nodetype: normal)\n{LINKS_HEADER}\teth1\tdead\n\teth0\tdead\n"
    f"\nbeta\tactive\t(nodetype: normal)\n{LINKS_HEADER}\teth1\tdead\n\teth0\tup\n"
    f"\nalpha\tactive\t(nodetype: normal)\n{LINKS_HEADER}\teth1\tdead\n\teth0\tdead\n"
)


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> NodeView:
    """Node alpha's view: beta active with eth1 cut, gamma crashed."""
    directory = write_config(
        tmp_path_factory.mktemp("clstatus") / "ha.d", ha_cf=THREE_NODE_HA_CF, haresources=""
    )
    from hbtwist.config import load_config

    config = load_config(directory, local_node="alpha")
    net = SimNet(["alpha", "beta", "gamma"])
    net.start()
    net.run(6.0)
    net.cut("beta", "eth1")
    net.crash("gamma")
    net.run(2.0)
    return NodeView(FakeNode(net.nodes["alpha"], config), net.clock)


def cl_status(view: NodeView, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str, int]:
    """Run `hbctl ARGV` against `view` in memory: (stdout, stderr, exit status)."""
    args = build_parser().parse_args(list(argv))
    client, _, pump = connect_in_memory(view)
    out = io.StringIO()
    status = run_pumped(pump, args.handler(client, args, out))
    return out.getvalue(), capsys.readouterr().err, status


CASES = [
    (["hbstatus"], "Heartbeat is running on this machine.\n", 0),
    (["hbstatus", "-m"], "Heartbeat is running on this machine.\n", 0),
    (
        ["hbstatus", "-v"],
        f'version:\t{HBVERSION}\nmanaged by:\t"haresources"\n' + VERBOSE_NODES,
        0,
    ),
    (
        ["hbstatus", "-v", "-m"],
        f'Heartbeat version {HBVERSION}\nResources controlled by "haresources"\n' + HUMAN_VERBOSE_NODES,
        0,
    ),
    (["listnodes"], "gamma\nbeta\nalpha\n", 0),
    (["listnodes", "-n"], "gamma\nbeta\nalpha\n", 0),
    (["listnodes", "-p"], "", 0),
    (["listnodes", "-n", "-p"], "gamma\nbeta\nalpha\n", 0),
    (["listnodes", "-m"], "The nodes are as follow:\ngamma\nbeta\nalpha\n", 0),
    (["listnodes", "-v"], VERBOSE_NODES, 0),
    (["listnodes", "-v", "-m"], HUMAN_VERBOSE_NODES, 0),
    (["nodestatus", "beta"], "active\n", 0),
    (["nodestatus", "alpha"], "active\n", 0),
    (["nodestatus", "gamma"], "dead\n", 1),
    (["nodestatus", "beta", "-m"], "The cluster node beta is active\n", 0),
    (["nodestatus", "-m", "gamma"], "The cluster node gamma is dead\n", 1),
    (["nodetype", "beta"], "normal\n", 0),
    (["nodetype", "-m", "beta"], "The node beta's type: normal\n", 0),
    (["nodeweight", "beta"], "100\n", 0),
    (["nodeweight", "-m", "beta"], "The weight of the cluster node beta is 100\n", 0),
    (["nodesite", "beta"], "\n", 0),
    (["nodesite", "-m", "beta"], "The site of the cluster node beta is \n", 0),
    (["listhblinks", "beta"], "\teth1\n\teth0\n", 0),
    (["listhblinks", "-v", "beta"], "\teth1\tdead\n\teth0\tup\n", 0),
    (["listhblinks", "-m", "-v", "beta"], LINKS_HEADER + "\teth1\tdead\n\teth0\tup\n", 0),
    (["listhblinks", "-m", "beta"], LINKS_HEADER + "\teth1\n\teth0\n", 0),
    (["hblinkstatus", "beta", "eth0"], "up\n", 0),
    (["hblinkstatus", "beta", "eth1"], "dead\n", 1),
    (["hblinkstatus", "-m", "beta", "eth0"], "The node beta's heartbeat link eth0 is up\n", 0),
    (["hblinkstatus", "gamma", "eth0", "-m"], "The node gamma's heartbeat link eth0 is dead\n", 1),
    (["clientstatus", "beta", "ipfail"], "offline\n", 1),
    (["clientstatus", "alpha", "ipfail", "500"], "offline\n", 1),
    (["clientstatus", "-m", "beta", "ipfail"], "offline\n", 1),
    (["rscstatus"], "none\n", 0),
    (["rscstatus", "-m"], "This node is holding none resources.\n", 0),
    (["hbparameter", "-p", "deadtime"], "500ms\n", 0),
    (["hbparameter", "-p", "warntime"], "250ms\n", 0),
    (["hbparameter", "-p", "udpport"], "17694\n", 0),
    (["hbparameter", "-p", "hbversion"], f"{HBVERSION}\n", 0),
    (["hbparameter", "-m", "-p", "keepalive"], "Heartbeat parameter keepalive's value: 100ms\n", 0),
]


@pytest.mark.parametrize(("argv", "stdout", "status"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_output_and_exit_status(
    view: NodeView, capsys: pytest.CaptureFixture[str], argv: list[str], stdout: str, status: int
) -> None:
    """The sub-command prints exactly cl_status's text on stdout, nothing on stderr, and exits."""
    assert cl_status(view, capsys, *argv) == (stdout, "", status)


ERRORS = [
    (["nodestatus"], "Not enough parameters.\n", 11),
    (["nodestatus", "delta"], "Error. May be due to incorrect node name\n", 11),
    (["nodeweight"], "Not enough parameters.\n", 11),
    (["nodeweight", "delta"], "Error. Maybe due to incorrect node name.\n", 11),
    (["nodesite"], "Not enough parameters.\n", 11),
    (["nodesite", "delta"], "Error. May be due to incorrect node name\n", 11),
    (["nodetype"], "No enough parameter.\n", 11),
    (["nodetype", "delta"], "Error. May be due to incorrect node name\n", 11),
    (["listhblinks"], "No enough parameter.\n", 11),
    (
        ["listhblinks", "delta"],
        "ERROR: Cannot start heartbeat link interface walk.\nERROR: REASON: no such node: delta\n",
        13,
    ),
    (["hblinkstatus", "beta"], "No enough parameter.\n", 11),
    (
        ["hblinkstatus", "beta", "eth9"],
        "ERROR: Cannot get heartbeat link status\nERROR: REASON: node beta has no link eth9\n",
        13,
    ),
    (
        ["hblinkstatus", "delta", "eth0"],
        "ERROR: Cannot get heartbeat link status\nERROR: REASON: no such node: delta\n",
        13,
    ),
    (["clientstatus", "beta"], "No enough parameter.\n", 11),
    (
        ["clientstatus", "delta", "ipfail"],
        "ERROR: Cannot get heartbeat client ipfail's status\nERROR: REASON: no such node: delta\n",
        13,
    ),
    (["hbparameter"], "ERROR: parameter name required\n", 11),
    (
        ["hbparameter", "-p", "watchdog"],
        "ERROR: Cannot get parameter watchdog's value\nERROR: REASON: parameter watchdog is not set\n",
        1,
    ),
]


@pytest.mark.parametrize(("argv", "stderr", "status"), ERRORS, ids=[" ".join(c[0]) for c in ERRORS])
def test_errors(
    view: NodeView, capsys: pytest.CaptureFixture[str], argv: list[str], stderr: str, status: int
) -> None:
    """Missing or unknown arguments give cl_status's complaint on stderr and its exit status."""
    assert cl_status(view, capsys, *argv) == ("", stderr, status)


def test_usage_errors_exit_11(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad option in a cl_status sub-command exits 11, elsewhere argparse's 2."""
    with pytest.raises(SystemExit) as raised:
        main(["listnodes", "-x"])
    assert raised.value.code == clstatus.PARAMETER_ERROR == 11
    with pytest.raises(SystemExit) as raised:
        main(["nodes", "-x"])
    assert raised.value.code == 2
    capsys.readouterr()


def unreachable_run(
    argv: list[str], problem: Unreachable, capsys: pytest.CaptureFixture[str]
) -> tuple[str, str, int]:
    """What `argv` prints and returns when the daemon is unreachable for `problem`."""
    args = build_parser().parse_args(argv)
    out = io.StringIO()
    status = clstatus.unreachable(problem, args, out)
    return out.getvalue(), capsys.readouterr().err, status


def test_unreachable_hbstatus(capsys: pytest.CaptureFixture[str]) -> None:
    """hbstatus: stopped exits 1, refused exits 0; -v adds the reason in parentheses."""
    stopped = Unreachable("unix:/x: no daemon listening", stopped=True)
    refused = Unreachable("unix:/x: permission denied")
    assert unreachable_run(["hbstatus"], stopped, capsys) == (
        "Heartbeat is stopped on this machine.\n",
        "",
        1,
    )
    assert unreachable_run(["hbstatus", "-v"], stopped, capsys) == (
        "Heartbeat is stopped on this machine.\n(unix:/x: no daemon listening)\n",
        "",
        1,
    )
    assert unreachable_run(["hbstatus"], refused, capsys) == (
        "Heartbeat is apparently running on this machine, but refuses my connection\n",
        "",
        0,
    )


def test_unreachable_other_commands(capsys: pytest.CaptureFixture[str]) -> None:
    """Other sub-commands log cl_status's sign-on failure and exit 1."""
    stopped = Unreachable("unix:/x: no daemon listening", stopped=True)
    out, err, status = unreachable_run(["listnodes"], stopped, capsys)
    assert (out, status) == ("", 1)
    assert err == (
        "ERROR: Cannot signon with heartbeat\n"
        "ERROR: REASON: hb_api_signon: Can't initiate connection to heartbeat "
        "(unix:/x: no daemon listening)\n"
    )
    refused = Unreachable("unix:/x: permission denied")
    assert unreachable_run(["nodestatus", "a"], refused, capsys)[1:] == (
        "ERROR: Cannot signon with heartbeat\nERROR: REASON: unix:/x: permission denied\n",
        1,
    )


def test_pacemaker_reading() -> None:
    """Only a false boolean means Pacemaker is off, as cl_status reads the parameter."""
    assert not clstatus.pacemaker_enabled("false")
    assert not clstatus.pacemaker_enabled("OFF")
    assert clstatus.pacemaker_enabled("respawn")
    assert clstatus.pacemaker_enabled("on")
    assert clstatus.pacemaker_enabled(None)


def test_every_cl_status_command_is_registered() -> None:
    """Every cl_status sub-command except its internal `test` has an hbctl sub-command."""
    parser = build_parser()
    for name in (
        "hbstatus",
        "listnodes",
        "nodestatus",
        "nodeweight",
        "nodesite",
        "nodetype",
        "listhblinks",
        "hblinkstatus",
        "clientstatus",
        "rscstatus",
        "hbparameter",
    ):
        args = parser.parse_args([name])
        assert args.command_name == name and callable(args.handler)


def test_control_option_defaults(tmp_path: Path) -> None:
    """--control defaults to the daemon's UNIX socket and accepts ssl: with certificates."""
    args = build_parser().parse_args(["listnodes"])
    assert control_target(args) == "unix:/run/hbtwist/control.sock" and args.timeout == 5.0
    args = build_parser().parse_args(
        ["listnodes", "--control", "ssl:alpha:1694", "--cert", "c", "--key", "k", "--ca", "a"]
    )
    assert (args.control, args.cert, args.key, args.ca) == ("ssl:alpha:1694", "c", "k", "a")
