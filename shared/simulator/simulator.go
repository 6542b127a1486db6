// Package simulator is a working stand-in for the affiliate platforms: a
// real HTTP server implementing the parts of FirstPromoter's API v2 and
// AgentRef's API v1 that rewardrelay calls (authentication, filters,
// pagination, synchronous and asynchronous batches, the 400 requests per
// minute limit), with fault injection (429, 5xx, latency), a record of every
// call, and senders that build and sign webhooks exactly as each platform
// does. Tests and the local stack use it.
package simulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Call is one request the simulator answered.
type Call struct {
	At     time.Time
	Method string
	Path   string
	Query  string
	Status int
}

// Fault is an injected answer: Status (429, 500, 503...) with an optional
// Retry-After, or only a delay before the normal answer.
type Fault struct {
	Status     int
	RetryAfter string
	Delay      time.Duration
}

// Simulator holds both platforms' state. Its exported methods are safe for
// concurrent use with the server.
type Simulator struct {
	mu sync.Mutex

	APIKey    string
	AccountID string
	AgentKey  string
	// RateLimit is FirstPromoter's requests per minute (default 400).
	RateLimit int
	Now       func() time.Time
	// BatchDuration is how long an asynchronous batch (more than 5 ids)
	// stays pending, then in progress, before it completes by itself,
	// polled or not (0: it completes at once, still answered 202 pending).
	BatchDuration time.Duration
	// Flaky, when set and true for a request, answers it 503: random
	// platform faults for end-to-end runs. Set it before serving, or use
	// SetFaultRate.
	Flaky func() bool

	commissions map[int64]*FPCommission
	conversions map[string]*Conversion
	payouts     map[string]*Payout
	affiliates  map[string]*Affiliate
	flags       map[string]*Flag
	batches     map[string]*batch
	nextBatch   int
	failFulfil  map[int64]string
	custIDs     map[int64]string
	refuseWhole bool

	// failUnfulfil is failFulfil for mark_unfulfilled.
	failUnfulfil map[int64]string
	// AgentRef's answers: cursors left out, status filters refused, lists
	// cut short, and the request ids of meta.requestId.
	noCursors     bool
	refusedStatus map[string]bool
	cutListsAfter int
	requestSeq    int
	// broken are the fields BreakRows sets or leaves out, by list path.
	broken map[string]map[string]any
	faults []Fault
	calls  []Call
	// recent holds the times of FirstPromoter requests in the last minute.
	recent []time.Time
}

// New returns an empty simulator with the default limits.
func New() *Simulator {
	return &Simulator{
		APIKey: "sim-api-key", AccountID: "acc_sim", AgentKey: "sim-agentref-key",
		RateLimit:   400,
		Now:         time.Now,
		commissions: map[int64]*FPCommission{},
		conversions: map[string]*Conversion{},
		payouts:     map[string]*Payout{},
		affiliates:  map[string]*Affiliate{},
		flags:       map[string]*Flag{},
		batches:     map[string]*batch{},
		failFulfil:  map[int64]string{},
		custIDs:     map[int64]string{},

		refusedStatus: map[string]bool{},
		failUnfulfil:  map[int64]string{},
	}
}

// Start serves the simulator on a loopback port until the returned server
// is closed.
func (s *Simulator) Start() *httptest.Server { return httptest.NewServer(s) }

// FirstPromoterURL and AgentRefURL are the API base URLs under a server.
func FirstPromoterURL(base string) string { return base + "/firstpromoter/api/v2/company" }

// AgentRefURL is the AgentRef API base URL under a simulator server.
func AgentRefURL(base string) string { return base + "/agentref/api/v1" }

// InjectFaults queues faults: each of the next requests gets one, in order.
func (s *Simulator) InjectFaults(f ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f...)
}

// FailFulfilment makes mark_fulfilled refuse id with message; an empty
// message clears it.
func (s *Simulator) FailFulfilment(id int64, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if message == "" {
		delete(s.failFulfil, id)
		return
	}
	s.failFulfil[id] = message
}

// FailUnfulfilment makes mark_unfulfilled refuse id with message; an empty
// message clears it.
func (s *Simulator) FailUnfulfilment(id int64, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if message == "" {
		delete(s.failUnfulfil, id)
		return
	}
	s.failUnfulfil[id] = message
}

// RefuseWholeRequests sets how mark_fulfilled (and mark_unfulfilled)
// answers for an id it cannot work on, the two ways a platform might: on,
// 422 for the whole request and
// nothing applied; off (the default), the batch completes and reports one
// message, without the id, per such id.
func (s *Simulator) RefuseWholeRequests(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseWhole = on
}

// Calls returns every call so far.
func (s *Simulator) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallCount counts calls whose "METHOD path" starts with prefix.
func (s *Simulator) CallCount(prefix string) int {
	n := 0
	for _, c := range s.Calls() {
		if strings.HasPrefix(c.Method+" "+c.Path, prefix) {
			n++
		}
	}
	return n
}

// MaxPerMinute returns the most FirstPromoter requests seen in any
// 60-second span.
func (s *Simulator) MaxPerMinute() int {
	var times []time.Time
	for _, c := range s.Calls() {
		if strings.HasPrefix(c.Path, "/firstpromoter/") {
			times = append(times, c.At)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	best, lo := 0, 0
	for hi := range times {
		for times[hi].Sub(times[lo]) >= time.Minute {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, controlPrefix) {
		s.serveControl(w, r)
		return
	}
	var fault *Fault
	s.mu.Lock()
	flaky := s.Flaky
	if len(s.faults) > 0 {
		f := s.faults[0]
		s.faults = s.faults[1:]
		fault = &f
	}
	s.mu.Unlock()
	if fault != nil && fault.Delay > 0 {
		select {
		case <-time.After(fault.Delay):
		case <-r.Context().Done():
			return
		}
	}
	rec := &statusRecorder{ResponseWriter: w, status: 200}
	defer func() {
		s.mu.Lock()
		s.calls = append(s.calls, Call{At: s.Now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: rec.status})
		s.mu.Unlock()
	}()
	if fault == nil && flaky != nil && flaky() {
		fault = &Fault{Status: http.StatusServiceUnavailable}
	}
	if fault != nil && fault.Status != 0 {
		if fault.RetryAfter != "" {
			rec.Header().Set("Retry-After", fault.RetryAfter)
		}
		writeJSON(rec, fault.Status, map[string]string{"message": "injected fault", "code": "injected"})
		return
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/firstpromoter/api/v2/company/"):
		s.serveFirstPromoter(rec, r, strings.TrimPrefix(r.URL.Path, "/firstpromoter/api/v2/company"))
	case strings.HasPrefix(r.URL.Path, "/agentref/api/v1/"):
		s.serveAgentRef(rec, r, strings.TrimPrefix(r.URL.Path, "/agentref/api/v1"))
	default:
		writeJSON(rec, http.StatusNotFound, map[string]string{"message": "no such endpoint", "code": "not_found"})
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func atoiDefault(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

func idString(id int64) string { return fmt.Sprint(id) }
