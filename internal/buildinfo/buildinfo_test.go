package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFromBuild(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "false"}}
	for _, tt := range []struct {
		name   string
		linked string
		bi     *debug.BuildInfo
		want   Info
	}{
		{"linked version wins", "v0.3.1", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-2026"}, Settings: vcs},
			Info{"v0.3.1", "abc123", "go1.26.8"}},
		{"go install of a tag", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.4.0"}},
			Info{"v0.4.0", "unknown", "go1.26.8"}},
		{"checkout build", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}},
			Info{"dev", "abc123-dirty", "go1.26.8"}},
	} {
		if got := fromBuild(tt.linked, tt.bi); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
	if got := fromBuild("", nil); got.Version != "dev" || got.Commit != "unknown" || got.GoVersion == "" {
		t.Errorf("no build info: got %+v", got)
	}
}
