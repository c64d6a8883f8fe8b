package openaitest

import (
	"context"
	"fmt"
)

// Stats counts what the server is doing, for load tests that wait for a state rather
// than sleep.
type Stats struct {
	ActiveStreams int // streamed chat answers being sent now
}

// Stats returns the current counts.
func (s *Server) Stats() Stats { return s.stats.Load() }

// Wait blocks until cond holds for the server's Stats, or ctx is done, in which case it
// returns an error with the last Stats seen.
func (s *Server) Wait(ctx context.Context, cond func(Stats) bool) error {
	if st, err := s.stats.Wait(ctx, cond); err != nil {
		return fmt.Errorf("openaitest: waiting for stats, last %+v: %w", st, err)
	}
	return nil
}
