# Sends or receives plain UDP datagrams for the relay tests where mcast send
# and recv do not reach: IPv4 broadcast and IPv6 groups.
#   relay_udp.py recv ADDR PORT TIMEOUT   (ADDR 0.0.0.0 for broadcast, or an IPv6 group)
#   relay_udp.py send ADDR PORT COUNT
import socket, struct, sys, time

mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ':' in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
idx = socket.if_nametoindex('eth0')
if mode == 'recv':
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.bind(('::', port))
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, socket.inet_pton(fam, addr) + struct.pack('@I', idx))
    else:
        s.bind(('', port))
    s.settimeout(float(sys.argv[4]))
    print('ready', flush=True)
    try:
        while True:
            d, a = s.recvfrom(65535)
            print('received: %s from %s' % (d.decode(), a[0]), flush=True)
    except socket.timeout:
        pass
else:
    if fam == socket.AF_INET:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'eth0')
    else:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
    for i in range(int(sys.argv[4])):
        s.sendto(('message %d' % i).encode(), (addr, port))
        time.sleep(0.005)
