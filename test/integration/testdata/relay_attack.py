# The attacker of the relay tests, run in the router namespace of the cloud
# lab (on the underlay path, as a compromised or hostile network would be).
# It records the relay frames it forwards for a while, then:
#   - replays every recorded frame, spoofing the original source;
#   - sends frames with a valid header naming a real session (the index
#     of a recorded frame from SPOOF_IP) but forged ciphertext, and a counter far ahead
#     (which, were it recorded, would lock the real sender out), spoofing
#     the peer's address;
#   - sends garbage from its own address.
# relay_attack.py TARGET_IP PORT SPOOF_IP SENDER_ID SNIFF_SECONDS
# (SENDER_ID is the index used when nothing was recorded.)
import os, random, socket, struct, sys, time

target, port, spoof, sender, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])

sniff = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
sniff.settimeout(0.2)
frames = []
end = time.time() + secs
while time.time() < end and len(frames) < 200:
    try:
        pkt, info = sniff.recvfrom(65535)
    except socket.timeout:
        continue
    if info[2] == socket.PACKET_OUTGOING:
        continue
    hl = (pkt[0] & 15) * 4
    if pkt[9] != 17 or socket.inet_ntoa(pkt[16:20]) != target:
        continue
    if struct.unpack('!H', pkt[hl+2:hl+4])[0] != port:
        continue
    if len(pkt) > 1500:
        continue  # frames a relay sent segmented (UDP_SEGMENT), not yet cut
    f = bytearray(pkt[:struct.unpack('!H', pkt[2:4])[0]])
    # veth leaves the UDP checksum to be completed (offload): zero it, which
    # IPv4 reads as "no checksum", so the replay arrives intact.
    f[hl+6:hl+8] = b'\x00\x00'
    frames.append(bytes(f))
print('recorded %d frames' % len(frames), flush=True)

raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for _ in range(2):
    for f in frames:
        raw.sendto(f, (target, 0))
print('replayed %d frames' % (2 * len(frames)), flush=True)

def udp_packet(src, dst, sport, dport, payload):
    udp = struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return ip + udp

index = sender
for f in frames:
    hl = (f[0] & 15) * 4
    if socket.inet_ntoa(f[12:16]) == spoof and f[hl+8:hl+10] == b'MR' and f[hl+11] in (1, 2):
        index = struct.unpack('!I', f[hl+12:hl+16])[0]
forged = 0
for i in range(50):
    hdr = b'MR\x02\x01' + struct.pack('!IQ', index, (1 << 62) + i)
    raw.sendto(udp_packet(spoof, target, port, port, hdr + os.urandom(random.randint(16, 300))), (target, 0))
    forged += 1
print('forged %d frames' % forged, flush=True)

u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(50):
    u.sendto(os.urandom(random.randint(0, 1400)), (target, port))
    u.sendto(b'MR\x02\x02' + struct.pack('!IQ', index, i) + os.urandom(40), (target, port))
print('sent garbage', flush=True)
