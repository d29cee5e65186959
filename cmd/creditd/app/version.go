package app

import "runtime/debug"

// version is stamped by the Makefile's build:
//
//	go build -ldflags "-X github.com/creditd/creditd/cmd/creditd/app.version=$(git describe --always --dirty)"
var version string

// Version names this build: the stamped version, else the module version or
// VCS revision Go recorded in the binary, else "devel".
func Version() string {
	if version != "" {
		return version
	}
	info, _ := debug.ReadBuildInfo()
	return versionFromBuildInfo(info)
}

func versionFromBuildInfo(info *debug.BuildInfo) string {
	if info == nil {
		return "devel"
	}
	// A tagged `go install ...@v1.2.3` knows its module version.
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var revision, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if revision == "" {
		return "devel"
	}
	if len(revision) > 12 {
		revision = revision[:12] // as in Go's pseudo-versions
	}
	if modified == "true" {
		revision += "-dirty" // as git describe --dirty says it
	}
	return revision
}
