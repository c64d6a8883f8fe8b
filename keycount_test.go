package genai_test

import (
	"testing"

	"genai"
	"genai/internal/countertest"
)

func TestMemoryCounter(t *testing.T) {
	countertest.Run(t, func(t *testing.T) func() genai.UsageCounter {
		c := &genai.MemoryCounter{}
		return func() genai.UsageCounter { return c }
	})
}
