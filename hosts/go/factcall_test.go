package forgeauthz

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// budgetCtx is context.WithDeadline(parent, deadline), made lazily (factcall.go): the
// same Deadline, Err and Done, whether or not Done is ever called.
func TestBudgetContext(t *testing.T) {
	budget := func(parent context.Context, d time.Duration) *budgetCtx {
		return &budgetCtx{Context: parent, deadline: time.Now().Add(d)}
	}
	// Err alone (a source that never waits) sees the deadline pass.
	b := budget(context.Background(), 20*time.Millisecond)
	if b.Err() != nil {
		t.Fatal(b.Err())
	}
	time.Sleep(30 * time.Millisecond)
	if !errors.Is(b.Err(), context.DeadlineExceeded) {
		t.Errorf("past the deadline, Err = %v", b.Err())
	}
	// Done fires at the deadline.
	b = budget(context.Background(), 20*time.Millisecond)
	select {
	case <-b.Done():
		if !errors.Is(b.Err(), context.DeadlineExceeded) {
			t.Errorf("Done, Err = %v", b.Err())
		}
	case <-time.After(2 * time.Second):
		t.Error("Done never fired")
	}
	b.release()
	// The caller's cancellation and earlier deadline win.
	parent, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	b = budget(parent, time.Hour)
	if d, _ := b.Deadline(); !d.Before(time.Now().Add(time.Minute)) {
		t.Errorf("deadline %v: the caller's is earlier", d)
	}
	cancel()
	if !errors.Is(b.Err(), context.Canceled) {
		t.Errorf("the caller cancelled: Err = %v", b.Err())
	}
	<-b.Done()
	b.release()
}

// Handles are unique while live and reused after; an unknown one panics (recovered by
// the trampolines as a failure).
func TestCallRegistry(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				c := &factCall{}
				h := register(c)
				if lookupCall(h) != c {
					t.Error("a handle gave another call")
				}
				unregister(h)
			}
		}()
	}
	wg.Wait()
	defer func() {
		if recover() == nil {
			t.Error("an unknown handle did not panic")
		}
	}()
	lookupCall(1 << 40)
}
