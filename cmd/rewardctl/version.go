package main

import (
	"fmt"
	"runtime/debug"
)

// version is the module's version and the commit rewardctl was built from,
// as the Go toolchain stamped them.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (built without module information)"
	}
	return versionOf(info)
}

func versionOf(info *debug.BuildInfo) string {
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	commit := settings["vcs.revision"]
	if commit == "" {
		return fmt.Sprintf("%s %s (commit unknown: built outside a git checkout, or with -buildvcs=false), %s", info.Main.Path, v, info.GoVersion)
	}
	if settings["vcs.modified"] == "true" {
		commit += " with uncommitted changes"
	}
	if t := settings["vcs.time"]; t != "" {
		commit += " of " + t
	}
	return fmt.Sprintf("%s %s (commit %s), %s", info.Main.Path, v, commit, info.GoVersion)
}
