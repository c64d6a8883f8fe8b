package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"genai/server"
)

// maxCheckTimeout bounds one check of a dependency: a provider that has not answered
// within it is taken for frozen.
const maxCheckTimeout = 5 * time.Second

// writeProbeBytes is what the data directory's check writes and syncs: enough to need a
// block of its own, so that a full disk fails it (an empty file would still be created).
const writeProbeBytes = 4096

// dependency is one thing /readyz depends on: its name, shown to anyone, and its check,
// whose error goes to the log only.
type dependency struct {
	name  string
	check func(ctx context.Context) error
}

// readiness checks dependencies in the background, every interval, and keeps the last
// results, so that /readyz, which load balancers call every few seconds on every task,
// costs a read and never an upstream call. A dependency that fails, or does not answer
// within the check's timeout, is not ready until a later check passes.
type readiness struct {
	log      *slog.Logger
	deps     []dependency
	interval time.Duration
	timeout  time.Duration

	mu   sync.Mutex
	last []error // by index of deps

	stop context.CancelFunc
	done chan struct{}
}

// startReadiness checks deps once, so that the first answer of /readyz is true, then
// again every interval until close.
func startReadiness(log *slog.Logger, interval time.Duration, deps []dependency) *readiness {
	r := &readiness{log: log, deps: deps, interval: interval, timeout: min(interval, maxCheckTimeout),
		last: make([]error, len(deps)), done: make(chan struct{})}
	ctx, stop := context.WithCancel(context.Background())
	r.stop = stop
	r.round(ctx)
	go r.loop(ctx)
	return r
}

func (r *readiness) loop(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.round(ctx)
		}
	}
}

// round checks every dependency at once, each within the timeout, and logs the changes.
func (r *readiness) round(ctx context.Context) {
	var wg sync.WaitGroup
	results := make([]error, len(r.deps))
	for i, d := range r.deps {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, r.timeout)
			defer cancel()
			err := d.check(cctx)
			if err != nil && cctx.Err() != nil && ctx.Err() == nil {
				err = fmt.Errorf("no answer within %v: %w", r.timeout, err)
			}
			results[i] = err
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // closing: the results are the cancellation's
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, err := range results {
		switch was := r.last[i]; {
		case err != nil && (was == nil || was.Error() != err.Error()):
			r.log.Warn("not ready", "dependency", r.deps[i].name, "err", err)
		case err == nil && was != nil:
			r.log.Info("ready again", "dependency", r.deps[i].name)
		}
		r.last[i] = err
	}
}

// ready returns nil when every dependency passed its last check, else a
// *server.NotReady naming those that did not.
func (r *readiness) ready(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var nr server.NotReady
	var errs []error
	for i, err := range r.last {
		if err != nil {
			nr.Failing = append(nr.Failing, r.deps[i].name)
			errs = append(errs, fmt.Errorf("%s: %w", r.deps[i].name, err))
		}
	}
	if nr.Failing == nil {
		return nil
	}
	nr.Err = errors.Join(errs...)
	return &nr
}

// close stops the checks and waits for a round in flight.
func (r *readiness) close() {
	r.stop()
	<-r.done
}

// writeProbe checks that dir takes a small write that reaches the disk: a full disk or a
// read-only mount fails it, where creating an empty file would not.
func writeProbe(dir string) error {
	f, err := os.CreateTemp(dir, ".ready-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(make([]byte, writeProbeBytes))
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}
