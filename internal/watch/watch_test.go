package watch

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWaitSeesUpdates(t *testing.T) {
	var w Value[int]
	go func() {
		for range 5 {
			w.Update(func(n *int) { *n++ })
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if v, err := w.Wait(ctx, func(n int) bool { return n == 5 }); err != nil || v != 5 {
		t.Fatalf("Wait = %d, %v; want 5", v, err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if v, err := w.Wait(ctx, func(n int) bool { return n == 6 }); !errors.Is(err, context.Canceled) || v != 5 {
		t.Errorf("Wait on a cancelled context = %d, %v; want 5 and context.Canceled", v, err)
	}
}
