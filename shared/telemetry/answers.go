package telemetry

import (
	"net/http"
	"sync/atomic"
)

// Metric names of the platforms' answers, counted by Answers.
const (
	// RateLimited counts 429 answers, each retried one included.
	RateLimited = "platform_429"
	// ServerErrors counts 5xx answers, each retried one included.
	ServerErrors = "platform_5xx"
)

// Answers is an http.RoundTripper that counts the platforms' 429 and 5xx
// answers, including those a client retries and that no error reports, so
// the functions' metric lines can show how close to its limits a platform
// is.
type Answers struct {
	// Next sends the requests; http.DefaultTransport when nil.
	Next http.RoundTripper

	rateLimited, serverErrors atomic.Int64
}

// PlatformAnswers counts the answers of every platform client the
// functions build in this process. A Lambda execution environment runs one
// invocation at a time, so what a handler takes at the end of an
// invocation is that invocation's.
var PlatformAnswers = &Answers{}

// RoundTrip implements http.RoundTripper.
func (a *Answers) RoundTrip(r *http.Request) (*http.Response, error) {
	next := a.Next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(r)
	if err == nil {
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			a.rateLimited.Add(1)
		case resp.StatusCode >= 500:
			a.serverErrors.Add(1)
		}
	}
	return resp, err
}

// Take returns the counts since the last Take, by metric name.
func (a *Answers) Take() map[string]int {
	return map[string]int{
		RateLimited:  int(a.rateLimited.Swap(0)),
		ServerErrors: int(a.serverErrors.Swap(0)),
	}
}
