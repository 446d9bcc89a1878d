# The flooding attacker of the relay's log rate-limit test, run in the
# router namespace of the cloud lab (on the underlay path). For SECONDS it
# sends TARGET, at about RATE frames/s in all:
#   - frames with a valid header naming a real session (the index of a
#     frame it saw from SPOOF_IP to TARGET, or SENDER_ID when it saw none
#     within a second) but a forged tag, spoofing that peer's address;
#   - frames naming sessions that do not exist, from its own address;
#   - garbage (no relay header), from its own address.
# relay_flood.py TARGET_IP PORT SPOOF_IP SENDER_ID SECONDS RATE
import os, socket, struct, sys, time

target, port, spoof, sender = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
secs, rate = float(sys.argv[5]), float(sys.argv[6])

def udp_packet(src, dst, sport, dport, payload):
    udp = struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return ip + udp

# The session index is in the clear header: learn it from a real frame.
index = sender
sniff = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
sniff.settimeout(0.2)
until = time.time() + 1
while time.time() < until:
    try:
        pkt, info = sniff.recvfrom(65535)
    except socket.timeout:
        continue
    hl = (pkt[0] & 15) * 4
    if pkt[9] != 17 or socket.inet_ntoa(pkt[12:16]) != spoof or socket.inet_ntoa(pkt[16:20]) != target:
        continue
    if pkt[hl+8:hl+10] == b'MR' and pkt[hl+10] == 2 and pkt[hl+11] in (1, 2):
        index = struct.unpack('!I', pkt[hl+12:hl+16])[0]
        break
sniff.close()

raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent = 0
start = time.time()
i = 0
while time.time() - start < secs:
    for _ in range(30):
        i += 1
        hdr = b'MR\x02\x01' + struct.pack('!IQ', index, (1 << 62) + i)
        raw.sendto(udp_packet(spoof, target, port, port, hdr + os.urandom(64)), (target, 0))
        u.sendto(b'MR\x02\x02' + struct.pack('!IQ', 0xdead0000 + i % 1000, i) + os.urandom(40), (target, port))
        u.sendto(os.urandom(48), (target, port))
        sent += 3
    # keep to about rate frames/s
    ahead = sent / rate - (time.time() - start)
    if ahead > 0:
        time.sleep(ahead)
print('sent %d frames in %.1fs' % (sent, time.time() - start), flush=True)
