"""mDNS query load and a static responder for bench/reflector.sh (Debian's /usr/bin/python3).

respond ADDR             answer every A question for a name under bench.local. with ADDR, by
                         multicast from port 5353, TTL 255, at once (no delay, no suppression):
                         the same responder behind both reflectors
load RATE SECONDS        from port 5353, send RATE queries a second for SECONDS, each for a new
                         name q<seq>t<send time>.bench.local. (QM, ID 0: what a browser sends),
                         listen on 224.0.0.251:5353 for the answers, and print one JSON line:
                         sent, answered (distinct names), answers per second, latency p50/p99 in ms

Each name carries its send time (CLOCK_MONOTONIC, which every network namespace of a host
shares), so a reflector that merges questions or answers into other packets is measured the
same way as one that copies datagrams. Only for network namespaces a benchmark made.
"""
import json
import multiprocessing
import socket
import struct
import sys
import time

GROUP, PORT = "224.0.0.251", 5353
SUFFIX = b"bench.local"


def mcast_socket(bind_addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((bind_addr, PORT))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    return s


def join(s, addr):
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(GROUP) + socket.inet_aton(addr))


def read_name(msg, off):
    """The name at off (pointers followed) as dotted bytes, and the offset after it."""
    labels, end, jumps = [], None, 0
    while True:
        n = msg[off]
        if n == 0:
            return b".".join(labels), (end if end is not None else off + 1)
        if n & 0xC0 == 0xC0:
            if end is None:
                end = off + 2
            jumps += 1
            if jumps > 16:
                raise ValueError("pointer loop")
            off = (n & 0x3F) << 8 | msg[off + 1]
            continue
        labels.append(msg[off + 1 : off + 1 + n])
        off += 1 + n


def encode_name(name):
    out = b""
    for label in name.split(b"."):
        out += bytes([len(label)]) + label
    return out + b"\0"


def respond(addr):
    s = mcast_socket("")
    join(s, addr)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(addr))
    rdata = struct.pack(">HHIH", 1, 0x8001, 120, 4) + socket.inet_aton(addr)
    print("responding", flush=True)
    while True:
        msg, _ = s.recvfrom(9000)
        try:
            flags, qd = struct.unpack_from(">HH", msg, 2)
            if flags & 0x8000:
                continue  # an answer
            off, answers = 12, []
            for _ in range(qd):
                name, off = read_name(msg, off)
                qtype = struct.unpack_from(">H", msg, off)[0]
                off += 4
                if qtype in (1, 255) and name.lower().endswith(SUFFIX):
                    answers.append(encode_name(name) + rdata)
        except (IndexError, ValueError, struct.error):
            continue
        if answers:
            s.sendto(struct.pack(">HHHHHH", 0, 0x8400, 0, len(answers), 0, 0) + b"".join(answers), (GROUP, PORT))


def receive(addr, ready, stop, out):
    s = mcast_socket("")
    join(s, addr)
    s.settimeout(0.1)
    lat, seen, dups = [], set(), 0
    ready.set()
    while not stop.is_set():
        try:
            msg, _ = s.recvfrom(9000)
        except socket.timeout:
            continue
        now = time.monotonic_ns()
        try:
            flags, qd, an = struct.unpack_from(">HHH", msg, 2)
            if not flags & 0x8000:
                continue
            off = 12
            for _ in range(qd):
                off = read_name(msg, off)[1] + 4
            for _ in range(an):
                name, off = read_name(msg, off)
                off += 8 + 2 + struct.unpack_from(">H", msg, off + 8)[0]
                first = name.split(b".", 1)[0]
                if not first.startswith(b"q") or b"t" not in first:
                    continue
                seq, sent = first[1:].split(b"t")
                if seq in seen:
                    dups += 1
                    continue
                seen.add(seq)
                lat.append((now - int(sent)) / 1e6)
        except (IndexError, ValueError, struct.error):
            continue
    out.send((lat, dups))


def load(rate, secs):
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.connect((GROUP, PORT))  # no packet: picks the multicast route's source
    addr = probe.getsockname()[0]
    probe.close()
    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    mine, theirs = multiprocessing.Pipe()
    rx = multiprocessing.Process(target=receive, args=(addr, ready, stop, theirs))
    rx.start()
    ready.wait(5)
    s = mcast_socket(addr)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(addr))
    head = struct.pack(">HHHHHH", 0, 0, 1, 0, 0, 0)
    tail = encode_name(SUFFIX) + struct.pack(">HH", 1, 1)
    total = int(rate * secs)
    start = time.monotonic()
    sent = 0
    while sent < total:
        due = min(total, int((time.monotonic() - start) * rate) + 1)
        while sent < due:
            label = b"q%dt%d" % (sent, time.monotonic_ns())
            try:
                s.sendto(head + bytes([len(label)]) + label + tail, (GROUP, PORT))
            except OSError:
                pass  # a full send queue: counted as sent, not answered
            sent += 1
        if sent < total:
            time.sleep(max(0, start + sent / rate - time.monotonic()))
    elapsed = time.monotonic() - start
    time.sleep(1)  # answers still on their way
    stop.set()
    lat, dups = mine.recv()
    rx.join()
    lat.sort()

    def pct(p):
        return round(lat[min(len(lat) - 1, int(p * len(lat)))], 3) if lat else None

    print(json.dumps({"offered": rate, "seconds": round(elapsed, 3), "sent": sent, "answered": len(lat),
                      "answers_per_s": round(len(lat) / elapsed, 1), "p50_ms": pct(0.50), "p99_ms": pct(0.99),
                      "duplicates": dups}), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "respond":
        respond(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "load":
        load(float(sys.argv[2]), float(sys.argv[3]))
    else:
        sys.exit(__doc__)
