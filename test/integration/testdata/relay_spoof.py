# A host (or a compromised relay) on one LAN sending multicast datagrams
# with another network's source address:
#   relay_spoof.py SRC_IP SRC_PORT GROUP PORT COUNT TTL
import socket, struct, sys, time

def checksum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

src, sport, group, dport, count, ttl = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for i in range(count):
    payload = b'spoofed datagram %d' % i
    s, d = socket.inet_aton(src), socket.inet_aton(group)
    udp = struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload
    c = checksum(s + d + struct.pack('!BBH', 0, 17, len(udp)) + udp) or 0xffff
    udp = udp[:6] + struct.pack('!H', c) + udp[8:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 1000 + i, 0, ttl, 17, 0, s, d)
    ip = ip[:10] + struct.pack('!H', checksum(ip)) + ip[12:]
    raw.sendto(ip + udp, (group, 0))
    time.sleep(0.005)
print('sent %d datagrams from %s' % (count, src), flush=True)
