// Package tunnel builds kernel overlays that carry broadcast and multicast
// between hosts whose network carries only unicast (clouds): a GRETAP or
// VXLAN hub that bridges one tunnel per spoke, or a VXLAN mesh in which
// every node replicates to every other.
//
// The work is split so that most of it is pure:
//
//   - Parse reads the config (YAML, the same file on every node) and checks
//     it, naming the line of each mistake.
//   - Desire turns the config, a node name and the host's interfaces into a
//     State: the devices, address, FDB entries, routes and sysctls the node
//     needs.
//   - State.Plan prints the State as the ip, bridge and sysctl commands that
//     build it by hand; LinkRequest, AddrRequest, FDBRequest and RouteRequest
//     are the netlink requests Up sends for the same things.
//   - Up (Linux) makes the host match a State and undoes its own work when a
//     step fails; Down removes what Up made, found by the alias Up gives every
//     device; Status looks and pings every peer through the overlay and on the
//     underlay.
package tunnel
