package main

import (
	"context"
	"testing"
	"time"
)

// scriptedQueue is a queue whose counts follow a script, one step per
// look: a delivery that waits for its platform is sent back delayed before
// its original is deleted, so the queue holds one more message for a
// moment; a failed batch reappears after its visibility timeout.
type scriptedQueue struct {
	steps []queueStep
	at    int
}

type queueStep struct{ visible, inFlight, delayed, settled int }

func (q *scriptedQueue) step() queueStep { return q.steps[min(q.at, len(q.steps)-1)] }

func (q *scriptedQueue) pending(context.Context) (int, int, int, error) {
	s := q.step()
	return s.visible, s.inFlight, s.delayed, nil
}

func (q *scriptedQueue) settled(context.Context) (int, error) {
	s := q.step()
	q.at++
	return s.settled, nil
}

// TestProcessingProgressNeverGoesBackwards: the processing bar counts the
// deliveries settled, so retries and deliveries queued again to wait for
// their platform never move it back.
func TestProcessingProgressNeverGoesBackwards(t *testing.T) {
	q := &scriptedQueue{steps: []queueStep{
		{visible: 10, settled: 0},
		{visible: 6, inFlight: 4, settled: 0},
		{visible: 6, inFlight: 2, settled: 2},
		// Two of the four in flight wait for the platform: their copies
		// are queued, delayed, before the originals are deleted.
		{visible: 6, inFlight: 2, delayed: 2, settled: 2},
		{visible: 6, delayed: 2, settled: 2},
		// A batch fails and is retried.
		{visible: 2, inFlight: 4, delayed: 2, settled: 2},
		{visible: 2, inFlight: 4, delayed: 2, settled: 2},
		{visible: 6, delayed: 2, settled: 2},
		{inFlight: 6, delayed: 2, settled: 2},
		{delayed: 2, settled: 8},
		{inFlight: 2, settled: 8},
		{settled: 10},
	}}
	var seen []int
	sim := simulation{drainTimeout: time.Minute, pollEvery: time.Millisecond, onProcessed: func(done, total int) {
		if total != 10 {
			t.Errorf("total %d, want 10", total)
		}
		seen = append(seen, done)
	}}
	if err := sim.drain(t.Context(), q, 10); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] < seen[i-1] {
			t.Errorf("the bar went back from %d to %d: %v", seen[i-1], seen[i], seen)
		}
	}
	if len(seen) == 0 || seen[len(seen)-1] != 10 {
		t.Errorf("the bar ends at %v, want 10", seen)
	}
}
