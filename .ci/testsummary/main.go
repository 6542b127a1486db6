// Command testsummary runs go test -json and prints what go test prints
// without -json (a line per package, the output of the tests that failed;
// everything with -v), then one summary line: packages, tests, which ran
// against which emulator, and the time.
//
//	go run ./.ci/testsummary go test -count=1 -json ./...
//
// It exits with the command's status, or 1 when a test failed.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testsummary go test -json [flags] [packages]")
		os.Exit(2)
	}
	start := time.Now()
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stderr = os.Stdin, os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	s := newSummary(os.Stdout, slices.Contains(os.Args, "-v"))
	if err := s.read(stdout); err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
	}
	runErr := cmd.Wait()
	fmt.Fprintln(os.Stdout, s.line(time.Since(start)))
	var exit *exec.ExitError
	switch {
	case errors.As(runErr, &exit):
		os.Exit(max(1, exit.ExitCode()))
	case runErr != nil:
		fmt.Fprintln(os.Stderr, "testsummary:", runErr)
		os.Exit(2)
	case s.failed > 0 || s.failedPackages > 0:
		os.Exit(1)
	}
}

// event is one line of go test -json (test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Elapsed    float64
	Output     string
	ImportPath string
}

// Emulator markers: what shared/awstest logs in each test that uses an
// emulator.
var emulators = []struct{ marker, name string }{
	{"awstest: uses DynamoDB Local", "DynamoDB Local"},
	{"awstest: uses the SQS emulator", "the SQS emulator"},
}

// summary reads a go test -json stream.
type summary struct {
	w       io.Writer
	verbose bool
	// output is each test's lines (key package + " " + test; the package's
	// own under the package alone), kept until it is known to have failed.
	output map[string][]string
	// failedTests are the failed tests of each package, in order.
	failedTests map[string][]string

	packages, failedPackages int
	passed, failed, skipped  int
	subtests                 int
	// usage is, for each emulator, the tests that used it.
	usage map[string]map[string]bool
}

func newSummary(w io.Writer, verbose bool) *summary {
	s := &summary{w: w, verbose: verbose, output: map[string][]string{}, failedTests: map[string][]string{}, usage: map[string]map[string]bool{}}
	for _, e := range emulators {
		s.usage[e.name] = map[string]bool{}
	}
	return s
}

func (s *summary) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if line := sc.Bytes(); len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			// Not an event: the go command's own words.
			fmt.Fprintln(s.w, sc.Text())
			continue
		}
		s.add(e)
	}
	return sc.Err()
}

func (s *summary) add(e event) {
	key := e.Package
	if e.Test != "" {
		key += " " + e.Test
	}
	switch e.Action {
	case "build-output":
		fmt.Fprint(s.w, e.Output)
	case "output":
		for _, em := range emulators {
			if e.Test != "" && strings.Contains(e.Output, em.marker) {
				top, _, _ := strings.Cut(e.Test, "/")
				s.usage[em.name][e.Package+" "+top] = true
			}
		}
		if s.verbose {
			fmt.Fprint(s.w, e.Output)
			return
		}
		s.output[key] = append(s.output[key], e.Output)
	case "pass", "skip", "fail":
		if e.Test == "" {
			s.endPackage(e)
			return
		}
		if strings.Contains(e.Test, "/") {
			s.subtests++
			if e.Action == "fail" {
				s.failedTests[e.Package] = append(s.failedTests[e.Package], e.Test)
			}
			return
		}
		switch e.Action {
		case "pass":
			s.passed++
		case "skip":
			s.skipped++
		case "fail":
			s.failed++
			s.failedTests[e.Package] = append(s.failedTests[e.Package], e.Test)
		}
	}
}

// endPackage prints the package's line, after the output of its failed
// tests when it failed, as go test does.
func (s *summary) endPackage(e event) {
	own := s.output[e.Package]
	noTests := slices.ContainsFunc(own, func(l string) bool { return strings.Contains(l, "[no test files]") })
	if noTests {
		if !s.verbose {
			fmt.Fprintf(s.w, "?   \t%s\t[no test files]\n", e.Package)
		}
		return
	}
	s.packages++
	if e.Action == "fail" {
		s.failedPackages++
		if !s.verbose {
			for _, test := range s.failedTests[e.Package] {
				printRelevant(s.w, s.output[e.Package+" "+test])
			}
			printRelevant(s.w, own)
		}
	}
	if !s.verbose {
		status := "ok  "
		if e.Action == "fail" {
			status = "FAIL"
		}
		fmt.Fprintf(s.w, "%s\t%s\t%.3fs\n", status, e.Package, e.Elapsed)
	}
	for k := range s.output {
		if k == e.Package || strings.HasPrefix(k, e.Package+" ") {
			delete(s.output, k)
		}
	}
}

// printRelevant prints a failed test's lines but the runner's own.
func printRelevant(w io.Writer, lines []string) {
	for _, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "=== "), strings.HasPrefix(t, "--- PASS"), strings.HasPrefix(t, "--- SKIP"), t == "PASS",
			strings.HasPrefix(t, "ok  "), strings.HasPrefix(t, "FAIL\t"):
			continue
		}
		fmt.Fprint(w, l)
	}
}

// line is the one summary line.
func (s *summary) line(took time.Duration) string {
	verdict := "ok"
	if s.failed > 0 || s.failedPackages > 0 {
		verdict = "FAIL"
	}
	var against []string
	for _, e := range emulators {
		against = append(against, fmt.Sprintf("%d against %s", len(s.usage[e.name]), e.name))
	}
	return fmt.Sprintf("make test: %s: %d packages, %d tests (and %d subtests): %d passed, %d failed, %d skipped; %s; %.1f s",
		verdict, s.packages, s.passed+s.failed+s.skipped, s.subtests, s.passed, s.failed, s.skipped, strings.Join(against, ", "), took.Seconds())
}
