package genai

import "fmt"

// Prompt caching: a cache point ends a prefix of the request — the system prompt, the
// tool list, or the messages up to a marked block — that the provider may keep and
// reuse on later requests with the same prefix, so those tokens are read from its cache
// (cheaper and faster) instead of processed again. A cache point is a hint: a provider or
// model without caching, or a prefix below the model's least cacheable size, skips it.

// MaxCachePoints bounds the cache points of a request (Anthropic's and Bedrock's limit).
const MaxCachePoints = 4

// Cache is where a cache point ends and how long its entry lives.
type Cache struct {
	// TTL is "5m" (the default) or "1h".
	TTL string
}

// validateCache counts the request's cache points and checks their TTLs.
func (r *ChatRequest) validateCache() error {
	points := 0
	check := func(c *Cache, path string) error {
		if c == nil {
			return nil
		}
		points++
		if c.TTL != "" && c.TTL != "5m" && c.TTL != "1h" {
			return Errorf(EINVALID, "%s.cache_control.ttl: must be \"5m\" or \"1h\", got %q", path, c.TTL)
		}
		return nil
	}
	if err := check(r.CacheSystem, "system"); err != nil {
		return err
	}
	if err := check(r.CacheTools, "tools"); err != nil {
		return err
	}
	for i, m := range r.Messages {
		for j, b := range m.Content {
			if err := check(b.Cache, fmt.Sprintf("messages[%d].content[%d]", i, j)); err != nil {
				return err
			}
		}
	}
	if points > MaxCachePoints {
		return Errorf(EINVALID, "cache_control: at most %d blocks may have cache_control, got %d", MaxCachePoints, points)
	}
	return nil
}
