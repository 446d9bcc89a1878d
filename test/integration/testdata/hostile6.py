"""Malformed IPv6 UDP packets to a group, written whole on one interface by
a raw socket (the kernel fixes only the IPv6 payload length): the relay's
capture there must refuse every one and carry none.

hostile6.py IFACE SRC GROUP PORT COUNT   COUNT packets of each kind
"""
import socket
import struct
import sys

iface, src, group, port, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
s6, g6 = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, group)


def ip6(nh, body):
    return struct.pack("!IHBB", 6 << 28, len(body), nh, 64) + s6 + g6 + body


def udp(length, payload):
    return struct.pack("!HHHH", 40000, port, length, 0) + payload


def opts(nh):
    return bytes([nh, 0, 1, 4, 0, 0, 0, 0])  # 8 bytes of PadN


payload = b"\x00" * 64
kinds = {
    "udp length beyond the packet": ip6(17, udp(9999, payload)),
    "udp length below its header": ip6(17, udp(4, payload)),
    "udp header cut short": ip6(17, udp(72, payload)[:4]),
    "endless option headers": ip6(0, b"".join(opts(60) for _ in range(20)) + opts(17) + udp(72, payload)),
    "hop-by-hop header past the end": ip6(0, bytes([17, 200, 1, 4, 0, 0, 0, 0]) + udp(72, payload)),
    "fragment": ip6(44, bytes([17, 0, 0, 0, 0, 0, 0, 1]) + udp(72, payload)),
}
sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
idx = socket.if_nametoindex(iface)
# The scope ID picks no interface for a group wider than link-local.
sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
sent = 0
for name, pkt in kinds.items():
    for _ in range(count):
        sock.sendto(pkt, (group, 0, 0, idx))
        sent += 1
print("sent", sent, flush=True)
