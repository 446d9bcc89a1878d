package sock

// NetOff is SKF_NET_OFF (-0x100000) as a classic BPF load offset: a load at
// NetOff+k reads byte k of the network header whatever link-layer header
// precedes it, so one filter serves Ethernet, VLAN-tagged and cooked (SLL)
// packet sockets alike.
const NetOff = 0xfff00000
