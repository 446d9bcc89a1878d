// Package buildinfo says which mcast this is: its version, the commit it
// was built from and the Go release that built it.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Version is set at build time with
// -ldflags "-X github.com/mcasttools/mcast/internal/buildinfo.Version=v0.x.y"
// (the Makefile takes it from `git describe --tags`). Left empty, Get falls
// back to what the Go toolchain recorded in the binary.
var Version = ""

// Commit is set at build time like Version (the Makefile gives
// `git rev-parse HEAD`, with -dirty for uncommitted changes). Left empty,
// Get takes the revision the Go toolchain recorded, if any.
var Commit = ""

// Info is what Get reports. Its JSON field names are stable.
type Info struct {
	Version   string `json:"version"`    // v0.x.y, a git describe string, or "dev"
	Commit    string `json:"commit"`     // the VCS revision, "unknown" when none was recorded
	GoVersion string `json:"go_version"` // the Go release that built the binary
}

// Get returns the build's version, commit and Go version.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	in := fromBuild(Version, bi)
	if Commit != "" {
		in.Commit = Commit
	}
	return in
}

// fromBuild combines the version set at link time with the build info
// (nil when the binary has none).
func fromBuild(linked string, bi *debug.BuildInfo) Info {
	in := Info{Version: linked, Commit: "unknown", GoVersion: runtime.Version()}
	if bi == nil {
		if in.Version == "" {
			in.Version = "dev"
		}
		return in
	}
	if bi.GoVersion != "" {
		in.GoVersion = bi.GoVersion
	}
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Commit = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && in.Commit != "unknown" {
		in.Commit += "-dirty"
	}
	if in.Version == "" {
		// `go install github.com/mcasttools/mcast/cmd/mcast@v0.x.y` records
		// the module version; a build in a checkout records "(devel)" or a
		// pseudo-version.
		switch v := bi.Main.Version; {
		case v != "" && v != "(devel)":
			in.Version = strings.TrimSuffix(v, "+dirty")
		default:
			in.Version = "dev"
		}
	}
	return in
}
