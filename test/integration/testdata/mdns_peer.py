"""A real mDNS client for the relay's reflector tests (python3-zeroconf).

register TYPE NAME PORT SECONDS  announce NAME.TYPE (e.g. _mcasttest._tcp) and answer for it
browse TYPE SECONDS              print "found NAME" for each instance of TYPE heard
resolve TYPE NAME SECONDS [oneshot]
                                 ask for NAME.TYPE's address and port, the first question with the
                                 unicast-response bit (QU); print "resolved NAME ADDR:PORT". With
                                 oneshot, ask from a port other than 5353 (zeroconf's unicast mode: a
                                 one-shot query, RFC 6762 section 6.7, answered to that port)
"""
import os
import socket
import sys
import time

from zeroconf import DNSQuestionType, IPVersion, ServiceBrowser, ServiceInfo, Zeroconf

# MDNS_IPV6=1 in the environment: IPv6 only (ff02::fb) instead of IPv4.
FAMILY = socket.AF_INET6 if os.environ.get("MDNS_IPV6") == "1" else socket.AF_INET
VERSION = IPVersion.V6Only if FAMILY == socket.AF_INET6 else IPVersion.V4Only


def addr():
    s = socket.socket(FAMILY, socket.SOCK_DGRAM)
    s.connect(("fd00:ffff::1" if FAMILY == socket.AF_INET6 else "10.255.255.255", 9))  # no packet: picks the route's source
    a = s.getsockname()[0]
    s.close()
    return a


def main():
    mode, typ = sys.argv[1], sys.argv[2] + ".local."
    if sys.argv[-1] == "oneshot":
        zc = Zeroconf(interfaces=[addr()], unicast=True, ip_version=VERSION)
    else:
        zc = Zeroconf(ip_version=VERSION)
    try:
        if mode == "register":
            name, port, secs = sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
            info = ServiceInfo(typ, name + "." + typ, addresses=[socket.inet_pton(FAMILY, addr())], port=port,
                               properties={"by": "mcast-test"}, server=name + ".local.")
            zc.register_service(info)
            print("registered", name, flush=True)
            time.sleep(secs)
            zc.unregister_service(info)
        elif mode == "resolve":
            name, secs = sys.argv[3], float(sys.argv[4])
            info = ServiceInfo(typ, name + "." + typ)
            if info.request(zc, secs * 1000, question_type=DNSQuestionType.QU):
                print("resolved", name, "%s:%d" % (info.parsed_addresses()[0], info.port), flush=True)
            else:
                print("not resolved", name, flush=True)
        else:
            secs = float(sys.argv[3])

            class Listener:
                def add_service(self, zc, t, name):
                    print("found", name.split(".")[0], flush=True)

                def update_service(self, zc, t, name):
                    pass

                def remove_service(self, zc, t, name):
                    pass

            ServiceBrowser(zc, typ, Listener())
            time.sleep(secs)
    finally:
        zc.close()


main()
