package app_test

import (
	"runtime/debug"
	"testing"

	"github.com/creditd/creditd/cmd/creditd/app"
)

func TestVersionFromBuildInfo(t *testing.T) {
	vcs := func(settings ...string) *debug.BuildInfo {
		info := &debug.BuildInfo{Main: debug.Module{Path: "github.com/creditd/creditd", Version: "(devel)"}}
		for i := 0; i < len(settings); i += 2 {
			info.Settings = append(info.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return info
	}
	for _, tc := range []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"no build info", nil, "devel"},
		{"no VCS stamp", vcs(), "devel"},
		{"clean checkout", vcs("vcs.revision", "17c371c0123456789abcdef0123456789abcdef0", "vcs.modified", "false"), "17c371c01234"},
		{"local changes", vcs("vcs.revision", "17c371c0123456789abcdef0123456789abcdef0", "vcs.modified", "true"), "17c371c01234-dirty"},
		{"go install of a tag", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := app.VersionFromBuildInfo(tc.info); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
