package main

import (
	"testing"

	"github.com/rewardrelay/rewardrelay/shared/stack"
)

// TestReadsExactlyTheVariablesTheTemplateDeclares runs the function's
// start-up with events/env.json's settings and compares the variables it
// reads with those the template declares (sam local invoke sets no
// other) and those events/env.json sets.
func TestReadsExactlyTheVariablesTheTemplateDeclares(t *testing.T) {
	start := func(getenv func(string) string) error {
		_, _, err := build(t.Context(), getenv)
		return err
	}
	for _, problem := range stack.CheckStartup("../..", "EventsFunction", start) {
		t.Error(problem)
	}
}
