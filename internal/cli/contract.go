package cli

import (
	"github.com/mcasttools/mcast/internal/contract"
	"github.com/mcasttools/mcast/internal/ping"
	"github.com/mcasttools/mcast/internal/relay"
	"github.com/mcasttools/mcast/internal/stream"
	"github.com/mcasttools/mcast/internal/tunnel"
	"github.com/mcasttools/mcast/internal/watch"
)

// recordType is one kind of --json record: its schema's name (the file
// docs/schema/NAME.json), a value of its Go type and the values its type
// field takes.
type recordType struct {
	Name  string
	Value any
	Types []string
}

// recordTypes lists every record the subcommands print with --json. The
// schemas under docs/schema are generated from it (see contract_test.go).
func recordTypes() []recordType {
	return []recordType{
		{"recv-start", recvStart{}, []string{"recv.start"}},
		{"recv-report", stream.Report{}, []string{"recv.report", "recv.sample", "recv.summary"}},
		{"recv-datagram", datagramRecord{}, []string{"recv.datagram"}},
		{"send-start", sendStart{}, []string{"send.start"}},
		{"send-datagram", sendDatagram{}, []string{"send.datagram"}},
		{"send-summary", sendSummary{}, []string{"send.summary"}},
		{"watch-event", watch.Event{}, []string{"watch." + watch.KindStart, "watch." + watch.KindJoin, "watch." + watch.KindLeave,
			"watch." + watch.KindReport, "watch." + watch.KindQuery, "watch." + watch.KindData, "watch." + watch.KindRate, "watch." + watch.KindWarning}},
		{"watch-summary", watchSummary{}, []string{"watch.summary"}},
		{"ping-report", ping.Report{}, []string{"ping.report"}},
		{"relay-status", relay.Status{}, []string{"relay.status"}},
		{"tunnel-status", tunnel.Report{}, []string{"tunnel.status"}},
		{"tunnel-change", tunnelRecord{}, []string{"tunnel.up", "tunnel.down", "tunnel.plan"}},
		{"lab", labRecord{}, []string{"lab.up", "lab.down", "lab.plan"}},
		{"lab-ls", labListRecord{}, []string{"lab.ls"}},
		{"lab-topologies", labTopologiesRecord{}, []string{"lab.topologies"}},
		{"doctor", doctorJSON{}, []string{"doctor"}},
		{"groups", groupsRecord{}, []string{"groups"}},
		{"mac", macRecord{}, []string{"mac"}},
		{"mac-check", macCheckRecord{}, []string{"mac.check"}},
		{"version", versionRecord{}, []string{"version"}},
	}
}

// schemaFor returns the JSON Schema of record type rt.
func schemaFor(rt recordType) contract.Schema {
	return contract.Generate(rt.Name, rt.Value, rt.Types...)
}
