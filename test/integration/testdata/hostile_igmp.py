#!/usr/bin/python3
"""Crafts the IGMP and MLD packets a host never sends, which mcast watch must
reject, and one good report after them.

    hostile_igmp.py write FILE.pcap   # write them to a pcap file
    hostile_igmp.py send IFACE        # send them on IFACE (inside a test's
                                      # network namespace only)

Each packet goes to 224.0.0.22 (ff02::16 for MLD), so a capture of multicast
sees it. The pure decoder tests read the written file
(internal/wire/igmp/testdata/hostile.pcap); the integration test sends the
same packets in a lab.
"""
import struct
import sys

from scapy.all import Ether, IP, IPv6, IPv6ExtHdrHopByHop, RouterAlert, Raw, sendp, wrpcap
from scapy.layers.inet import IPOption_Router_Alert


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def igmp(typ, group, rest=b""):
    b = bytes([typ, 0, 0, 0]) + bytes(map(int, group.split("."))) + rest
    c = csum(b)
    return b[:2] + struct.pack("!H", c) + b[4:]


def v3report(records, count=None):
    body = b"".join(records)
    n = len(records) if count is None else count
    b = bytes([0x22, 0, 0, 0, 0, 0]) + struct.pack("!H", n) + body
    c = csum(b)
    return b[:2] + struct.pack("!H", c) + b[4:]


def record(typ, group):
    return bytes([typ, 0, 0, 0]) + bytes(map(int, group.split(".")))


def v4(payload, **kw):
    return (Ether(src="02:00:00:00:00:99", dst="01:00:5e:00:00:16")
            / IP(src="10.0.0.2", dst="224.0.0.22", ttl=1, proto=2, tos=0xc0,
                 options=[IPOption_Router_Alert()], **kw)
            / Raw(payload))


def packets():
    mld_nonmcast = bytes([131, 0, 0, 0, 0, 0, 0, 0]) + bytes.fromhex("fd000000000000000000000000000077")
    return [
        v4(igmp(0x16, "10.0.0.77")),                       # v2 report for a unicast address
        v4(igmp(0x16, "0.0.0.0")),                         # v2 report for 0.0.0.0
        v4(v3report([])),                                  # v3 report without records
        v4(igmp(0x16, "239.1.1.1"), chksum=0x1234),        # bad IPv4 header checksum
        v4(igmp(0x16, "239.2.2.2"), flags="MF"),           # first of several fragments
        v4(v3report([record(4, "10.0.0.78")])),            # v3 record for a unicast address
        v4(v3report([record(4, "239.3.3.3")], count=5)),   # record count beyond the packet
        (Ether(src="02:00:00:00:00:99", dst="33:33:00:00:00:16")
         / IPv6(src="fe80::99", dst="ff02::16", hlim=1)
         / IPv6ExtHdrHopByHop(options=[RouterAlert()])
         / __import__("scapy.layers.inet6", fromlist=["ICMPv6MLReport"]).ICMPv6MLReport(mladdr="fd00::77")),
        v4(igmp(0x16, "239.9.9.9")),                       # a good v2 report, last
    ]


if __name__ == "__main__":
    what, where = sys.argv[1], sys.argv[2]
    if what == "write":
        wrpcap(where, packets())
    elif what == "send":
        sendp(packets(), iface=where, verbose=False)
    else:
        sys.exit("usage: hostile_igmp.py write FILE | send IFACE")
