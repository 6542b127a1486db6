package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// A go test -json stream: a package whose tests pass (one of them on both
// emulators, through a subtest), one with a failing test, one without
// tests.
const stream = `{"Action":"start","Package":"p/a"}
{"Action":"run","Package":"p/a","Test":"TestStore"}
{"Action":"output","Package":"p/a","Test":"TestStore","Output":"=== RUN   TestStore\n"}
{"Action":"run","Package":"p/a","Test":"TestStore/sub"}
{"Action":"output","Package":"p/a","Test":"TestStore/sub","Output":"    awstest.go:42: awstest: uses DynamoDB Local at http://127.0.0.1:1\n"}
{"Action":"output","Package":"p/a","Test":"TestStore/sub","Output":"    awstest.go:42: awstest: uses the SQS emulator at http://127.0.0.1:2\n"}
{"Action":"pass","Package":"p/a","Test":"TestStore/sub","Elapsed":0}
{"Action":"output","Package":"p/a","Test":"TestStore","Output":"    awstest.go:42: awstest: uses DynamoDB Local at http://127.0.0.1:1\n"}
{"Action":"pass","Package":"p/a","Test":"TestStore","Elapsed":0.5}
{"Action":"run","Package":"p/a","Test":"TestPure"}
{"Action":"pass","Package":"p/a","Test":"TestPure","Elapsed":0}
{"Action":"run","Package":"p/a","Test":"TestMake"}
{"Action":"output","Package":"p/a","Test":"TestMake","Output":"--- SKIP: TestMake (0.00s)\n"}
{"Action":"skip","Package":"p/a","Test":"TestMake","Elapsed":0}
{"Action":"output","Package":"p/a","Output":"PASS\n"}
{"Action":"output","Package":"p/a","Output":"ok  \tp/a\t0.600s\n"}
{"Action":"pass","Package":"p/a","Elapsed":0.6}
{"Action":"run","Package":"p/b","Test":"TestBroken"}
{"Action":"output","Package":"p/b","Test":"TestBroken","Output":"=== RUN   TestBroken\n"}
{"Action":"output","Package":"p/b","Test":"TestBroken","Output":"    b_test.go:9: got 1, want 2\n"}
{"Action":"output","Package":"p/b","Test":"TestBroken","Output":"--- FAIL: TestBroken (0.00s)\n"}
{"Action":"fail","Package":"p/b","Test":"TestBroken","Elapsed":0}
{"Action":"output","Package":"p/b","Output":"FAIL\n"}
{"Action":"output","Package":"p/b","Output":"FAIL\tp/b\t0.010s\n"}
{"Action":"fail","Package":"p/b","Elapsed":0.01}
{"Action":"output","Package":"p/c","Output":"?   \tp/c\t[no test files]\n"}
{"Action":"skip","Package":"p/c","Elapsed":0}
`

func TestSummaryPrintsWhatGoTestPrintsAndOneLine(t *testing.T) {
	var out bytes.Buffer
	s := newSummary(&out, false)
	if err := s.read(strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	want := "ok  \tp/a\t0.600s\n" +
		"    b_test.go:9: got 1, want 2\n" +
		"--- FAIL: TestBroken (0.00s)\n" +
		"FAIL\n" +
		"FAIL\tp/b\t0.010s\n" +
		"?   \tp/c\t[no test files]\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
	line := s.line(74200 * time.Millisecond)
	if want := "make test: FAIL: 2 packages, 4 tests (and 1 subtests): 2 passed, 1 failed, 1 skipped; 1 against DynamoDB Local, 1 against the SQS emulator; 74.2 s"; line != want {
		t.Errorf("got  %s\nwant %s", line, want)
	}
}

func TestVerboseSummaryPrintsEverything(t *testing.T) {
	var out bytes.Buffer
	s := newSummary(&out, true)
	if err := s.read(strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"=== RUN   TestStore\n", "--- SKIP: TestMake", "ok  \tp/a\t0.600s\n", "FAIL\tp/b\t0.010s\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("verbose output lacks %q:\n%s", want, out.String())
		}
	}
}
