package localstack

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	reconcilerhandler "github.com/rewardrelay/rewardrelay/functions/reconciler/handler"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
)

// schedule runs the reconciler now and then at the template's rate, each
// run within the template's timeout, until ctx is done.
func (s *Stack) schedule(ctx context.Context) error {
	rc, err := s.Reconciler()
	if err != nil {
		return err
	}
	expr, err := s.Template.ScheduleExpression("ReconcilerFunction", nil)
	if err != nil {
		return err
	}
	every, err := scheduleRate(expr)
	if err != nil {
		return err
	}
	timeout, err := strconv.Atoi(fmt.Sprint(s.Template.Parameters["ReconcilerTimeout"].Default))
	if err != nil {
		return fmt.Errorf("template ReconcilerTimeout: %w", err)
	}
	h := reconcilerhandler.Handler{Reconciler: rc, Log: s.Log, Answers: telemetry.PlatformAnswers}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		runCtx, cancel := context.WithTimeout(ctx, time.Duration(timeout)*time.Second)
		err := h.Handle(runCtx, events.CloudWatchEvent{DetailType: "Scheduled Event", Source: "aws.events", Time: time.Now()})
		switch {
		case ctx.Err() != nil:
			// The stack is stopping: a run it cut short failed nothing.
			s.Log.Info("the stop cut the reconciler run short; the next start runs it again")
		case err != nil:
			s.Log.Error("reconciler run failed", "error", err.Error())
		}
		cancel()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// scheduleRate reads an EventBridge rate expression: rate(5 minutes).
func scheduleRate(expr string) (time.Duration, error) {
	var n int
	var unit string
	if _, err := fmt.Sscanf(strings.TrimSuffix(strings.TrimPrefix(expr, "rate("), ")"), "%d %s", &n, &unit); err != nil || n <= 0 {
		return 0, fmt.Errorf("schedule %q: only rate(N unit) runs locally", expr)
	}
	switch strings.TrimSuffix(unit, "s") {
	case "minute":
		return time.Duration(n) * time.Minute, nil
	case "hour":
		return time.Duration(n) * time.Hour, nil
	case "day":
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return 0, fmt.Errorf("schedule %q: unknown unit %q", expr, unit)
}
