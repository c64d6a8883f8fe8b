package genai

import (
	"context"
	"encoding/json"
	"iter"
)

// Role is the author of a message: RoleUser or RoleAssistant.
type Role string

// The roles of a conversation. A system prompt is not a role; it is ChatRequest.System.
const (
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// BlockType says what a ContentBlock holds.
type BlockType string

// The kinds of content block.
const (
	BlockText       BlockType = "text"
	BlockImage      BlockType = "image"
	BlockToolUse    BlockType = "tool_use"    // a call the model made, in assistant messages
	BlockToolResult BlockType = "tool_result" // a call's outcome, in user messages
)

// Limits on a chat request that this server sets whatever the provider, to bound the
// memory and work of one request. A provider's own rules (Claude's temperature range and
// alternating roles on Bedrock, say) are checked by that provider.
const (
	MaxImageBytes    = 3_750_000 // decoded bytes of one image
	MaxImages        = 20        // images in one request
	MaxMessages      = 1000      // messages in one request
	MaxOutputTokens  = 200_000   // upper bound of ChatRequest.MaxTokens
	MaxStopSequences = 16        // entries in ChatRequest.StopSequences
	MaxModelIDLength = 256       // bytes of a model id
	MaxTemperature   = 2         // upper bound of ChatRequest.Temperature (OpenAI's)
)

// ContentBlock is one part of a message: text, an image, a document, a tool call or a
// tool result.
type ContentBlock struct {
	Type       BlockType
	Text       string        // for BlockText
	Image      *Image        // for BlockImage
	Document   *ChatDocument // for BlockDocument (document.go)
	ToolUse    *ToolUse      // for BlockToolUse
	ToolResult *ToolResult   // for BlockToolResult
	Thinking   *Thinking     // for BlockThinking
	// Cache, when set, is a cache point after this block (cache.go).
	Cache *Cache
}

// Image is a picture sent to a model. Format is "png", "jpeg", "gif" or "webp" and has
// been checked against the bytes by SniffImage.
type Image struct {
	Format string
	Data   []byte
}

// MediaType returns the image's MIME type, such as "image/png".
func (im *Image) MediaType() string { return "image/" + im.Format }

// Message is one turn of a conversation.
type Message struct {
	Role    Role
	Content []ContentBlock
}

// Text returns the concatenated text blocks of m; tool calls and results are not text.
func (m Message) Text() string {
	var s string
	for _, b := range m.Content {
		if b.Type == BlockText {
			s += b.Text
		}
	}
	return s
}

// TextMessage returns a message of one text block.
func TextMessage(role Role, text string) Message {
	return Message{Role: role, Content: []ContentBlock{{Type: BlockText, Text: text}}}
}

// ChatRequest asks a model to continue a conversation. Zero values mean "the provider's
// default": an empty Model is the configured default model, a zero MaxTokens the
// configured default, a nil Temperature or TopP the model's own default.
type ChatRequest struct {
	Model         string
	System        string
	Messages      []Message
	MaxTokens     int
	Temperature   *float64
	TopP          *float64
	StopSequences []string
	// Tools the model may call, and how (nil is ToolChoiceAuto). See tool.go.
	Tools      []Tool
	ToolChoice *ToolChoice
	// ServerTools names the groups of tools the server runs itself for this request,
	// such as "knowledge_base" or "notes" (see ToolRunner). They are the server's to
	// resolve: a provider never sees them.
	ServerTools []string
	// ResponseFormat asks for an answer that is JSON (nil: free text). See ResponseFormat.
	ResponseFormat *ResponseFormat
	// CacheSystem and CacheTools are cache points after the system prompt and after the
	// tool list (cache.go).
	CacheSystem, CacheTools *Cache
	// ThinkingBudget is the tokens the model may reason in before it answers (extended
	// thinking, thinking.go); 0 is off. It counts towards MaxTokens, which must be larger.
	ThinkingBudget int
	// ThinkingOff says the request turned thinking off itself ({"type": "disabled"},
	// reasoning effort "none"), so a provider's default budget does not apply.
	ThinkingOff bool
}

// ResponseFormatType is the kind of structured answer a request asks for.
type ResponseFormatType string

// The structured answers.
const (
	// FormatJSONObject asks for an answer that is one JSON object, of any shape.
	FormatJSONObject ResponseFormatType = "json_object"
	// FormatJSONSchema asks for an answer that is JSON valid against Schema.
	FormatJSONSchema ResponseFormatType = "json_schema"
)

// ResponseFormat is a request for a JSON answer (OpenAI's response_format). The answer's
// text is the JSON; a provider that cannot produce it refuses the request.
type ResponseFormat struct {
	Type ResponseFormatType
	// Name (required for FormatJSONSchema, ^[a-zA-Z0-9_-]{1,64}$), Description and Schema
	// (a JSON Schema object) describe the answer of FormatJSONSchema.
	Name        string
	Description string
	Schema      json.RawMessage
	// Strict asks that the answer follow Schema exactly.
	Strict bool
}

// Usage counts the tokens of one model call.
type Usage struct {
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
	// CacheReadTokens and CacheWriteTokens are the input tokens read from the
	// provider's prompt cache and written to it (cache.go), beside InputTokens.
	CacheReadTokens  int `json:"cache_read_input_tokens,omitempty"`
	CacheWriteTokens int `json:"cache_creation_input_tokens,omitempty"`
}

// Event is one step of a streamed answer: a piece of text, a step of a tool call
// (ToolUse), or, when Done is set, the end of the answer with its stop reason and token
// usage.
type Event struct {
	Text    string
	ToolUse *ToolUseEvent
	// Thinking is a piece of the model's reasoning, before its answer.
	Thinking *ThinkingEvent
	// ToolResult is the result of a tool the server ran itself, for its caller to see;
	// the model gets it in the next turn.
	ToolResult *ToolResult
	Done       bool
	StopReason string // "end_turn", "max_tokens", "stop_sequence", "tool_use", … when Done
	Usage      Usage  // when Done
	// Citations are sources found while answering, for answers whose sources are not
	// all known before the text (a managed knowledge base reports them as it goes).
	Citations []Citation
}

// ChatResponse is a whole answer, as returned by ChatModel.Chat.
type ChatResponse struct {
	Model string
	Text  string // the text blocks of Content, joined
	// Content is the answer's blocks in order: thinking (BlockThinking), text and tool
	// calls (BlockToolUse).
	Content    []ContentBlock
	StopReason string
	Usage      Usage
}

// ChatModel is a model provider that answers conversations.
//
// Stream yields the answer as it is generated: text, and tool calls as ToolUse events
// (start, input pieces, end) when the request has tools. The sequence ends after an Event with
// Done set, or after a non-nil error; a consumer that stops early, or a cancelled ctx,
// cancels the upstream call. Errors are *Error values with codes such as ETHROTTLED or
// EUPSTREAM. Chat returns the whole answer at once.
type ChatModel interface {
	Stream(ctx context.Context, req *ChatRequest) iter.Seq2[Event, error]
	Chat(ctx context.Context, req *ChatRequest) (*ChatResponse, error)
}
