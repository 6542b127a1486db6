package main

import (
	"bytes"
	"encoding/json"
	"io"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

// TestAMissingArgumentShowsTheUsageLine.
func TestAMissingArgumentShowsTheUsageLine(t *testing.T) {
	t.Setenv("REWARDRELAY_LOCAL_DIR", t.TempDir())
	for _, tt := range []struct {
		args  []string
		says  string
		usage string
	}{
		{[]string{"commission"}, "missing <provider> <id>", "usage: rewardctl commission <provider> <id> [flags]"},
		{[]string{"commission", "firstpromoter"}, "missing <id>", "usage: rewardctl commission <provider> <id> [flags]"},
		{[]string{"send"}, "missing <event.json>", "usage: rewardctl send <event.json> [flags]"},
		{[]string{"balances", "promoter:1"}, `unexpected argument "promoter:1"`, "usage: rewardctl balances [flags]"},
		{[]string{"dlq", "redrive", "now"}, `unexpected argument "now"`, "usage: rewardctl dlq redrive [flags]"},
		{[]string{"drift", "--run", "3"}, "unknown flag: --run", "usage: rewardctl drift [flags]"},
	} {
		_, err := rewardctl(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.says) || !strings.HasSuffix(err.Error(), "\n"+tt.usage) {
			t.Errorf("%v: %v, want %q and the usage line %q", tt.args, err, tt.says, tt.usage)
		}
	}
}

// TestAnUnknownProviderIsNamedAsSuch.
func TestAnUnknownProviderIsNamedAsSuch(t *testing.T) {
	t.Setenv("REWARDRELAY_LOCAL_DIR", t.TempDir())
	for _, args := range [][]string{
		{"commission", "acme", "41001"},
		{"balances", "--provider", "acme"},
		{"send", "--provider", "acme", "../../events/firstpromoter-commission-approved.json"},
	} {
		_, err := rewardctl(t, args...)
		if err == nil || !strings.Contains(err.Error(), `unknown provider "acme": firstpromoter or agentref`) {
			t.Errorf("%v: %v, want the unknown provider named", args, err)
		}
	}
}

// TestFlagValuesAreChecked: a value no stack can have is refused, naming
// the flag, before anything is read (here no stack runs: an unchecked value
// would end in another error).
func TestFlagValuesAreChecked(t *testing.T) {
	t.Setenv("REWARDRELAY_LOCAL_DIR", t.TempDir())
	for _, tt := range []struct {
		args []string
		says string
	}{
		{[]string{"drift", "--runs", "0"}, "--runs must be at least 1 (got 0)"},
		{[]string{"drift", "--runs", "-5"}, "--runs must be at least 1 (got -5)"},
		{[]string{"dlq", "--max", "-1"}, "--max must be at least 1 (got -1)"},
		{[]string{"dlq", "--max", "0"}, "--max must be at least 1 (got 0)"},
		{[]string{"reconcile", "--timeout", "0s"}, "--timeout must be a positive duration"},
		{[]string{"local", "--port", "70000"}, "--port must be from 0 (any free port) to 65535 (got 70000)"},
		{[]string{"simulate", "--drain-timeout", "0s"}, "--drain-timeout must be a positive duration"},
		{[]string{"cost", "--rewards-per-month", "0"}, "--rewards-per-month must be more than 0 (got 0)"},
		{[]string{"cost", "--acknowledged-share", "1.5"}, "--acknowledged-share must be a share from 0 to 1 (got 1.5)"},
		{[]string{"cost", "--messages-per-batch", "0"}, "--messages-per-batch must be at least 1 (got 0)"},
		{[]string{"cost", "--webhook-ms", "-3"}, "--webhook-ms must be at least 0 (got -3)"},
		{[]string{"dlq", "--max", "many"}, `invalid argument "many" for "--max"`},
	} {
		_, err := rewardctl(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.says)
		}
	}
}

// snakeCase is the one naming convention of every --json.
var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// checkSnakeCase checks every key of every JSON value in out (one or more,
// one per line or one whole).
func checkSnakeCase(t *testing.T, what string, out string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	values := 0
	for {
		var v any
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("%s: not JSON: %v\n%s", what, err, out)
		}
		values++
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, e := range x {
					// Counters are keyed by their (snake_case) names.
					if !snakeCase.MatchString(k) {
						t.Errorf("%s: key %q at %s is not snake_case", what, k, path)
					}
					walk(path+"."+k, e)
				}
			case []any:
				for _, e := range x {
					walk(path+"[]", e)
				}
			}
		}
		walk("$", v)
	}
	if values == 0 {
		t.Errorf("%s printed no JSON", what)
	}
}

func TestVersionNamesTheModuleAndTheCommit(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/rewardrelay/rewardrelay", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0990a1b2351eccdd48e0b2a7d1d893b86871ddad"}, {Key: "vcs.time", Value: "2026-11-27T17:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	want := "github.com/rewardrelay/rewardrelay v1.4.0 (commit 0990a1b2351eccdd48e0b2a7d1d893b86871ddad with uncommitted changes of 2026-11-27T17:00:00Z), go1.26.8"
	if got := versionOf(info); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	info.Settings = nil
	if got := versionOf(info); !strings.Contains(got, "v1.4.0") || !strings.Contains(got, "commit unknown") {
		t.Errorf("without a commit: %q", got)
	}
	var out bytes.Buffer
	root := rootCommand()
	root.SetArgs([]string{"--version"})
	root.SetOut(&out)
	if err := root.Execute(); err != nil || !strings.HasPrefix(out.String(), "rewardctl github.com/rewardrelay/rewardrelay ") {
		t.Errorf("--version: %v %q", err, out.String())
	}
}

func TestShellCompletionIsThere(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		out, err := rewardctl(t, "completion", shell)
		if err != nil || !strings.Contains(out, "rewardctl") {
			t.Errorf("completion %s: %v (%d bytes)", shell, err, len(out))
		}
	}
}
