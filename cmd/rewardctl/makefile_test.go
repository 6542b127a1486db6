package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestMakeHelpListsEveryTarget: make help (make's default) lists each
// target of the Makefile with what it does.
func TestMakeHelpListsEveryTarget(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("make is not installed; CI runs make test")
		}
		t.Skip("make is not installed")
	}
	raw, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "--no-print-directory", "-s")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "MAKEFLAGS=", "MAKELEVEL=")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make: %v\n%s", err, out)
	}
	targets := regexp.MustCompile(`(?m)^([a-zA-Z][a-zA-Z_-]*):`).FindAllStringSubmatch(string(raw), -1)
	if len(targets) < 10 {
		t.Fatalf("only %d targets found in the Makefile", len(targets))
	}
	for _, m := range targets {
		name := m[1]
		if strings.HasPrefix(name, "build-") && name != "build-<LogicalId>" && name[len("build-")] >= 'A' && name[len("build-")] <= 'Z' {
			// SAM's targets, one per function, are described together.
			name = "build-<LogicalId>"
		}
		line := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(name) + ` +\S.*$`).FindString(string(out))
		if line == "" {
			t.Errorf("make help does not describe %s:\n%s", name, out)
		}
	}
	for _, v := range []string{"PORT", "REWARDRELAY_LOCAL_DIR", "LOG_LEVEL", "TESTFLAGS"} {
		if !strings.Contains(string(out), v) {
			t.Errorf("make help does not name %s", v)
		}
	}
}
