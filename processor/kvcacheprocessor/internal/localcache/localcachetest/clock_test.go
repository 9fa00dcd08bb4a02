package localcachetest

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestClockAdvances(t *testing.T) {
	c := NewClock()
	start := c.NowNano()
	c.Advance(time.Second)
	if got := c.NowNano() - start; got != int64(time.Second) {
		t.Fatalf("advanced %d ns, want 1s", got)
	}
	if c.Tick(time.Second) != nil {
		t.Fatal("the clock must never tick")
	}
}
