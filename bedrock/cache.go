package bedrock

import (
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"genai"
)

// Prompt caching on Converse: the request's cache points (genai.Cache) become cachePoint
// blocks after the tool list, the system prompt and the marked message blocks — the
// order of the prefix Bedrock caches. A cache point is a hint, so one Bedrock would not
// take is left out with a debug log rather than failing the request: on a model without
// prompt caching, or after a prefix shorter than the model's least cacheable size
// (estimated at 4 characters a token, a document's bytes likewise, images at 1,000).

// cacheMinimums are the least tokens before a cache point, by part of the model id, as
// Bedrock documents them; a model not listed has no prompt caching.
var cacheMinimums = []struct {
	model  string
	tokens int
}{
	{"claude-haiku-4-5", 4096},
	{"claude-3-5-haiku", 2048},
	{"claude-3-7-sonnet", 1024},
	{"claude-sonnet-4", 1024},
	{"claude-opus-4", 1024},
	{"amazon.nova", 1000},
}

func cacheMinimum(model string) (int, bool) {
	for _, m := range cacheMinimums {
		if strings.Contains(model, m.model) {
			return m.tokens, true
		}
	}
	return 0, false
}

func cachePoint(c *genai.Cache) types.CachePointBlock {
	p := types.CachePointBlock{Type: types.CachePointTypeDefault}
	if c.TTL == "1h" {
		p.Ttl = types.CacheTTLOneHour
	}
	return p
}

// applyCache adds req's cache points to in, the Converse input made from req.
func applyCache(req *genai.ChatRequest, in *bedrockruntime.ConverseInput) {
	model := *in.ModelId
	least, ok := cacheMinimum(model)
	skip := func(where string, size int) bool {
		switch {
		case !ok:
			slog.Debug("cache point left out: the model has no prompt caching on Bedrock", "model", model, "at", where)
			return true
		case size < least:
			slog.Debug("cache point left out: the prefix is below the model's least cacheable size", "model", model, "at", where, "tokens", size, "least", least)
			return true
		}
		return false
	}
	size := 0
	if in.ToolConfig != nil {
		for _, t := range req.Tools {
			size += (len(t.Name) + len(t.Description) + len(t.InputSchema)) / 4
		}
		if req.CacheTools != nil && !skip("tools", size) {
			in.ToolConfig.Tools = append(in.ToolConfig.Tools, &types.ToolMemberCachePoint{Value: cachePoint(req.CacheTools)})
		}
	}
	size += len(req.System) / 4
	if req.CacheSystem != nil && req.System != "" && !skip("system", size) {
		in.System = append(in.System, &types.SystemContentBlockMemberCachePoint{Value: cachePoint(req.CacheSystem)})
	}
	for i, m := range req.Messages {
		var blocks []types.ContentBlock
		for j, b := range m.Content {
			blocks = append(blocks, in.Messages[i].Content[j])
			switch b.Type {
			case genai.BlockText:
				size += len(b.Text) / 4
			case genai.BlockImage:
				size += 1000
			case genai.BlockDocument:
				size += len(b.Document.Data) / 4
			case genai.BlockToolUse:
				size += len(b.ToolUse.Input) / 4
			case genai.BlockToolResult:
				for _, c := range b.ToolResult.Content {
					size += len(c.Text) / 4
				}
			}
			if b.Cache != nil && !skip("message", size) {
				blocks = append(blocks, &types.ContentBlockMemberCachePoint{Value: cachePoint(b.Cache)})
			}
		}
		in.Messages[i].Content = blocks
	}
}
