package bedrocktest

import (
	"crypto/sha256"
	"encoding/json"
	"strings"
)

// Prompt caching, as Converse does it: cachePoint blocks after the tools, the system
// prompt or message blocks mark prefixes to cache, at most 4, on the models that cache.
// The first request with a prefix reports its words as cacheWriteInputTokens; a later
// request with the same prefix reports them as cacheReadInputTokens.

// CachePoint is a cachePoint block.
type CachePoint struct {
	Type string `json:"type"`
	TTL  string `json:"ttl,omitempty"`
}

// CachingModels are parts of the model ids that take cache points.
var CachingModels = []string{"claude-haiku-4-5", "claude-3-5-haiku", "claude-3-7-sonnet", "claude-sonnet-4", "claude-opus-4", "amazon.nova"}

// cachePoints returns the request's cache points in prefix order, each with the JSON of
// the prefix it ends.
func (r *Request) cachePoints() (points []*CachePoint, prefixes []string) {
	var prefix strings.Builder
	add := func(v any) {
		b, _ := json.Marshal(v)
		prefix.Write(b)
	}
	if r.ToolConfig != nil {
		for _, t := range r.ToolConfig.Tools {
			if t.CachePoint != nil {
				points, prefixes = append(points, t.CachePoint), append(prefixes, prefix.String())
				continue
			}
			add(t)
		}
	}
	for _, b := range r.System {
		if b.CachePoint != nil {
			points, prefixes = append(points, b.CachePoint), append(prefixes, prefix.String())
			continue
		}
		add(b)
	}
	for _, m := range r.Messages {
		add(m.Role)
		for _, b := range m.Content {
			if b.CachePoint != nil {
				points, prefixes = append(points, b.CachePoint), append(prefixes, prefix.String())
				continue
			}
			add(b)
		}
	}
	return points, prefixes
}

func validateCache(req *Request) string {
	points, _ := req.cachePoints()
	if len(points) == 0 {
		return ""
	}
	caches := false
	for _, m := range CachingModels {
		caches = caches || strings.Contains(req.ModelID, m)
	}
	switch {
	case !caches:
		return "You invoked an unsupported model or your request did not allow prompt caching. See the documentation for more information."
	case len(points) > 4:
		return "The number of cache points in the request exceeds the maximum of 4."
	}
	for _, p := range points {
		if p.Type != "default" || p.TTL != "" && p.TTL != "5m" && p.TTL != "1h" {
			return "cachePoint: type must be default and ttl 5m or 1h"
		}
	}
	return ""
}

// cacheUsage returns the cache reads and writes of req, remembering its prefixes.
func (s *Server) cacheUsage(req *Request) (read, write int) {
	_, prefixes := req.cachePoints()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached == nil {
		s.cached = map[[32]byte]bool{}
	}
	for _, p := range prefixes {
		key := sha256.Sum256([]byte(p))
		words := len(strings.Fields(p))
		if s.cached[key] {
			read = max(read, words)
		} else {
			s.cached[key] = true
			write = max(write, words)
		}
	}
	return read, write
}
