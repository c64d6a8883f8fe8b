package server

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"genai"
	"genai/rag"
)

// This file serves the OpenAI-compatible surface of API.md, so that the official OpenAI
// SDKs work with their base URL pointed here: /v1/models, /v1/chat/completions (whole
// and streamed) and /v1/embeddings. Requests are translated to the same domain
// requests as /api/chat, with the same validation.

type oaiMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCalls  []oaiToolCall   `json:"tool_calls"`   // assistant
	ToolCallID string          `json:"tool_call_id"` // tool
	// Refusal is an assistant's earlier refusal, which clients send back as it came
	// (null when there was none); it is the assistant's text.
	Refusal *string `json:"refusal"`
	// What clients copy back from an answer they got: the SDKs' parse of its content
	// (a client-side copy, ignored), and empty annotations, audio and function_call.
	Parsed json.RawMessage `json:"parsed"`
	// ThinkingBlocks are an assistant's signed reasoning, as this server answers it (the
	// field LiteLLM uses too), sent back so the model can go on after a tool call;
	// ReasoningContent is its text, a copy that is ignored.
	ThinkingBlocks   []json.RawMessage `json:"thinking_blocks"`
	ReasoningContent *string           `json:"reasoning_content"`
	Annotations      json.RawMessage   `json:"annotations"`
	Audio            json.RawMessage   `json:"audio"`
	FunctionCall     json.RawMessage   `json:"function_call"`
}

type oaiPart struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	ImageURL *struct {
		URL    string `json:"url"`
		Detail string `json:"detail"`
	} `json:"image_url"`
	File *oaiFile `json:"file"`
}

// oaiFile is a file content part's file: its name and its bytes as a data URL. An
// uploaded file's id (file_id) is refused by name, as this server keeps no files.
type oaiFile struct {
	Filename string `json:"filename"`
	FileData string `json:"file_data"`
	FileID   string `json:"file_id"`
}

type oaiChatRequest struct {
	Model               string          `json:"model"`
	Messages            []oaiMessage    `json:"messages"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	Stop                json.RawMessage `json:"stop"`
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Tools             []json.RawMessage `json:"tools"`
	ToolChoice        json.RawMessage   `json:"tool_choice"`
	ParallelToolCalls *bool             `json:"parallel_tool_calls"`
	ResponseFormat    json.RawMessage   `json:"response_format"`
	// ServerTools turns on tools the server runs itself, as on /api/chat.
	ServerTools []string `json:"server_tools"`
	// ReasoningEffort turns on extended thinking with a budget of thinkingBudgets.
	ReasoningEffort string `json:"reasoning_effort"`

	// Fields that official clients and frameworks send with their neutral values: taken
	// at those values, refused at any other, since no provider here honours them.
	N                *int     `json:"n"`
	Logprobs         *bool    `json:"logprobs"`
	PresencePenalty  *float64 `json:"presence_penalty"`
	FrequencyPenalty *float64 `json:"frequency_penalty"`
	// User identifies the end user to the provider for abuse monitoring; it changes
	// nothing in the answer and is only logged.
	User string `json:"user"`
}

// checkNeutral refuses the fields of in that this server does not implement unless
// they hold their neutral values; every other unknown field is refused by name.
func checkNeutral(data []byte, in *oaiChatRequest) error {
	// Messages first, so that a field of theirs is named with its path.
	var msgs struct {
		Messages []json.RawMessage `json:"messages"`
	}
	json.Unmarshal(data, &msgs)
	for i, m := range msgs.Messages {
		var raw struct {
			ToolCalls []json.RawMessage `json:"tool_calls"`
		}
		json.Unmarshal(m, &raw)
		for k, c := range raw.ToolCalls {
			path := fmt.Sprintf("messages[%d].tool_calls[%d].", i, k)
			var call struct {
				Function json.RawMessage `json:"function"`
			}
			json.Unmarshal(c, &call)
			if present(call.Function) {
				if err := genai.RefuseUnknown(call.Function, path+"function.", &oaiFunctionCall{}); err != nil {
					return err
				}
			}
			if err := genai.RefuseUnknown(c, path, &oaiToolCall{}); err != nil {
				return err
			}
		}
		var msg oaiMessage
		if err := genai.RefuseUnknown(m, fmt.Sprintf("messages[%d].", i), &msg); err != nil {
			return err
		}
		var parts []json.RawMessage
		if json.Unmarshal(msg.Content, &parts) == nil {
			for j, p := range parts {
				if err := genai.RefuseUnknown(p, fmt.Sprintf("messages[%d].content[%d].", i, j), &oaiPart{}); err != nil {
					return err
				}
			}
		}
	}
	if err := genai.RefuseUnknown(data, "", &oaiChatRequest{}); err != nil {
		return err
	}
	switch {
	case in.N != nil && *in.N != 1:
		return genai.Errorf(genai.EINVALID, "n: only 1 choice per request is supported, got %d", *in.N)
	case in.Logprobs != nil && *in.Logprobs:
		return genai.Errorf(genai.EINVALID, "logprobs: not supported by this server")
	case in.PresencePenalty != nil && *in.PresencePenalty != 0:
		return genai.Errorf(genai.EINVALID, "presence_penalty: not supported by this server (only 0)")
	case in.FrequencyPenalty != nil && *in.FrequencyPenalty != 0:
		return genai.Errorf(genai.EINVALID, "frequency_penalty: not supported by this server (only 0)")
	}
	return nil
}

// parseOpenAIChat translates an OpenAI chat completion request into a ChatRequest.
func parseOpenAIChat(data []byte) (*genai.ChatRequest, *oaiChatRequest, error) {
	var in oaiChatRequest
	if err := genai.DecodeJSON(data, &in); err != nil {
		return nil, nil, err
	}
	if err := checkNeutral(data, &in); err != nil {
		return nil, nil, err
	}
	req := &genai.ChatRequest{Model: in.Model, Temperature: in.Temperature, TopP: in.TopP}
	switch {
	case in.MaxCompletionTokens != nil:
		req.MaxTokens = *in.MaxCompletionTokens
	case in.MaxTokens != nil:
		req.MaxTokens = *in.MaxTokens
	}
	if (in.MaxTokens != nil || in.MaxCompletionTokens != nil) && req.MaxTokens < 1 {
		return nil, nil, genai.Errorf(genai.EINVALID, "max_tokens: must be at least 1")
	}
	if len(in.Stop) > 0 && string(in.Stop) != "null" {
		var one string
		if json.Unmarshal(in.Stop, &one) == nil {
			req.StopSequences = []string{one}
		} else if err := json.Unmarshal(in.Stop, &req.StopSequences); err != nil {
			return nil, nil, genai.Errorf(genai.EINVALID, "stop: expected a string or an array of strings")
		}
	}
	if len(in.Messages) == 0 {
		return nil, nil, genai.Errorf(genai.EINVALID, "messages: must hold at least one message")
	}
	if len(in.Messages) > genai.MaxMessages {
		return nil, nil, genai.Errorf(genai.ETOOLARGE, "messages: at most %d messages, got %d", genai.MaxMessages, len(in.Messages))
	}
	var err error
	if req.System, req.Messages, err = oaiConversation(in.Messages); err != nil {
		return nil, nil, err
	}
	if req.Tools, err = parseOAITools(in.Tools); err != nil {
		return nil, nil, err
	}
	if req.ToolChoice, err = parseOAIToolChoice(in.ToolChoice, in.ParallelToolCalls, req.Tools); err != nil {
		return nil, nil, err
	}
	if req.ResponseFormat, err = parseOAIResponseFormat(in.ResponseFormat); err != nil {
		return nil, nil, err
	}
	req.ServerTools = in.ServerTools
	req.ThinkingOff = in.ReasoningEffort == "none"
	if req.ThinkingBudget, err = reasoningBudget(in.ReasoningEffort); err != nil {
		return nil, nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, nil, err
	}
	return req, &in, nil
}

// oaiContent reads a message's content: a string, or an array of text and image_url
// parts whose images are data URLs (URLs are never fetched).
func oaiContent(raw json.RawMessage, path string) ([]genai.ContentBlock, error) {
	if !present(raw) {
		return nil, genai.Errorf(genai.EINVALID, "%s.content: required", path)
	}
	var text string
	if err := json.Unmarshal(raw, &text); err == nil {
		return []genai.ContentBlock{{Type: genai.BlockText, Text: text}}, nil
	}
	var parts []oaiPart
	if err := json.Unmarshal(raw, &parts); err != nil || len(parts) == 0 {
		return nil, genai.Errorf(genai.EINVALID, "%s.content: expected a string or a non-empty array of content parts", path)
	}
	blocks := make([]genai.ContentBlock, len(parts))
	for j, p := range parts {
		pp := fmt.Sprintf("%s.content[%d]", path, j)
		switch p.Type {
		case "text":
			blocks[j] = genai.ContentBlock{Type: genai.BlockText, Text: p.Text}
		case "image_url":
			if p.ImageURL == nil {
				return nil, genai.Errorf(genai.EINVALID, "%s.image_url: required", pp)
			}
			if d := p.ImageURL.Detail; d != "" && d != "auto" {
				return nil, genai.Errorf(genai.EINVALID, "%s.image_url.detail: only \"auto\" is supported by this server, got %q", pp, d)
			}
			im, err := dataURLImage(p.ImageURL.URL, pp+".image_url.url")
			if err != nil {
				return nil, err
			}
			blocks[j] = genai.ContentBlock{Type: genai.BlockImage, Image: im}
		case "file":
			doc, err := fileDocument(p.File, pp+".file")
			if err != nil {
				return nil, err
			}
			blocks[j] = genai.ContentBlock{Type: genai.BlockDocument, Document: doc}
		default:
			return nil, genai.Errorf(genai.EINVALID, "%s.type: %q is not \"text\", \"image_url\" or \"file\"", pp, p.Type)
		}
	}
	return blocks, nil
}

// fileDocument decodes the file of a file content part: a data URL of a document
// (data:application/pdf;base64,…), checked like every document (genai.NewDocument). Its
// name is the filename without the extension of its format, which the format already
// says and which a provider's name rules may refuse (Bedrock takes no dots).
func fileDocument(f *oaiFile, path string) (*genai.ChatDocument, error) {
	if f == nil {
		return nil, genai.Errorf(genai.EINVALID, "%s: required", path)
	}
	if f.FileID != "" {
		return nil, genai.Errorf(genai.EINVALID, "%s.file_id: this server keeps no uploaded files; send the file's bytes in file_data", path)
	}
	rest, ok := strings.CutPrefix(f.FileData, "data:")
	meta, data, found := strings.Cut(rest, ",")
	mediaType, isBase64 := strings.CutSuffix(meta, ";base64")
	if !ok || !found || !isBase64 {
		return nil, genai.Errorf(genai.EINVALID, "%s.file_data: must be a data URL (data:application/pdf;base64,…)", path)
	}
	doc, err := genai.DecodeDocument(f.Filename, mediaType, data, path+".file_data")
	if err != nil {
		return nil, err
	}
	if ext := "." + doc.Format; strings.HasSuffix(strings.ToLower(doc.Name), ext) {
		doc.Name = doc.Name[:len(doc.Name)-len(ext)]
	}
	return doc, nil
}

// dataURLImage decodes a data:image/…;base64 URL and checks the image by its bytes.
func dataURLImage(u, path string) (*genai.Image, error) {
	rest, ok := strings.CutPrefix(u, "data:")
	meta, data, found := strings.Cut(rest, ",")
	if !ok || !found || !strings.HasSuffix(meta, ";base64") {
		return nil, genai.Errorf(genai.EINVALID, "%s: must be a data URL (data:image/png;base64,…); this server does not fetch URLs", path)
	}
	if base64.StdEncoding.DecodedLen(len(data)) > genai.MaxImageBytes+3 {
		return nil, genai.Errorf(genai.ETOOLARGE, "%s: image is over the limit of %d bytes", path, genai.MaxImageBytes)
	}
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, genai.Errorf(genai.EINVALID, "%s: not valid base64", path)
	}
	format := genai.SniffImage(b)
	if format == "" {
		return nil, genai.Errorf(genai.EMEDIATYPE, "%s: bytes are not a png, jpeg, gif or webp image", path)
	}
	return &genai.Image{Format: format, Data: b}, nil
}

type oaiUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

// usageOAI is u as OpenAI counts it: prompt tokens include those read from and written
// to the prompt cache, and cached_tokens are those read.
func usageOAI(u genai.Usage) *oaiUsage {
	prompt := u.InputTokens + u.CacheReadTokens + u.CacheWriteTokens
	o := &oaiUsage{PromptTokens: prompt, CompletionTokens: u.OutputTokens, TotalTokens: prompt + u.OutputTokens}
	o.PromptTokensDetails.CachedTokens = u.CacheReadTokens
	return o
}

type oaiChoice struct {
	Index int `json:"index"`
	// any, so that an empty delta ({}, as OpenAI ends a stream) is still sent.
	Message      any     `json:"message,omitempty"`
	Delta        any     `json:"delta,omitempty"`
	FinishReason *string `json:"finish_reason"`
}

type oaiCompletion struct {
	ID      string      `json:"id"`
	Object  string      `json:"object"`
	Created int64       `json:"created"`
	Model   string      `json:"model"`
	Choices []oaiChoice `json:"choices"`
	Usage   *oaiUsage   `json:"usage,omitempty"`
}

func (s *Server) openAIChat(w http.ResponseWriter, r *http.Request) {
	if s.opts.Chat == nil {
		s.writeError(w, r, genai.Errorf(genai.ENOPROVIDER, "%s", noProviderMessage))
		return
	}
	data, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	req, in, err := parseOpenAIChat(data)
	var model genai.ChatModel
	if err == nil {
		model, err = s.modelFor(req)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Model == "" {
		req.Model = s.opts.ChatModel
	}
	if req.MaxTokens == 0 {
		req.MaxTokens = s.opts.MaxTokens + req.ThinkingBudget
	}
	base := oaiCompletion{ID: newID("chatcmpl-"), Created: time.Now().Unix(), Model: req.Model}
	call := s.metrics.startCall(s.opts.Provider, s.modelLabel(req.Model))
	if !in.Stream {
		resp, err := model.Chat(r.Context(), req)
		call.finish(err, usageOf(resp))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		fr := oaiFinishReason(resp.StopReason)
		base.Object = "chat.completion"
		base.Choices = []oaiChoice{{Message: oaiAnswer(resp, req.Tools), FinishReason: &fr}}
		base.Usage = usageOAI(resp.Usage)
		writeJSON(w, http.StatusOK, base)
		return
	}

	base.Object = "chat.completion.chunk"
	var sse *sseWriter
	var usage genai.Usage
	defer func() { call.finish(err, usage) }()
	chunk := func(delta map[string]any, finish *string) error {
		c := base
		c.Choices = []oaiChoice{{Delta: delta, FinishReason: finish}}
		return sse.data(c)
	}
	// A text chunk, written per token, is its text's JSON between a head and a tail
	// encoded once; the bytes are those of chunk(map[string]any{"content": text}, nil).
	head, tail := textChunkParts(base)
	tools := oaiToolDeltas{clientTools: req.Tools}
	var thought []genai.ContentBlock // the thinking blocks so far
	for ev, evErr := range model.Stream(r.Context(), req) {
		if evErr != nil {
			err = evErr
			break
		}
		if sse == nil {
			sse = s.newSSEWriter(w, r)
			defer sse.close()
			// The role chunk leaves with the first text, in one write.
			sse.hold = true
			err = chunk(map[string]any{"role": "assistant", "content": ""}, nil)
			sse.hold = false
			if err != nil {
				return
			}
		}
		if ev.Done {
			usage = ev.Usage
			sse.ending()
			fr := oaiFinishReason(ev.StopReason)
			if err = chunk(map[string]any{}, &fr); err != nil {
				return
			}
			if in.StreamOptions != nil && in.StreamOptions.IncludeUsage {
				c := base
				c.Choices, c.Usage = []oaiChoice{}, usageOAI(ev.Usage)
				if err = sse.data(c); err != nil {
					return
				}
			}
			err = sse.raw("[DONE]")
			return
		}
		if t := ev.Thinking; t != nil {
			// The text as reasoning_content deltas; at the block's end, the block itself
			// (with its signature) for the client to send back in thinking_blocks.
			call.firstToken()
			if t.Text != "" {
				if err = chunk(map[string]any{"reasoning_content": t.Text}, nil); err != nil {
					return
				}
			}
			thought = genai.AppendThinking(thought, t)
			if last := thought[len(thought)-1].Thinking; last.Signature != "" || last.Redacted != nil {
				if err = chunk(map[string]any{"thinking_blocks": []any{thinkingBlockContent(last)}}, nil); err != nil {
					return
				}
			}
			continue
		}
		if ev.ToolUse != nil {
			call.firstToken()
			if d := tools.delta(ev.ToolUse); d != nil {
				if err = chunk(d, nil); err != nil {
					return
				}
			}
			continue
		}
		if ev.Text == "" {
			continue // a server tool's result, or citations: not in OpenAI's stream
		}
		call.firstToken()
		if err = sse.textEvent(head, ev.Text, tail); err != nil {
			return
		}
	}
	if err == nil {
		err = genai.Errorf(genai.EUPSTREAM, "the model's stream ended without a stop event")
	}
	if sse == nil {
		s.writeError(w, r, err)
		return
	}
	sse.ending()
	sse.data(s.errorPayload(r, s.errorDetailOf(r, err))) // OpenAI's clients read an error object in the stream
}

// modelCapabilities say what a model of /v1/models does, beyond OpenAI's fields, so a
// client can tell the chat models from the embedder.
type modelCapabilities struct {
	Chat       bool `json:"chat"`
	Vision     bool `json:"vision"`
	Embeddings bool `json:"embeddings"`
	Dimensions int  `json:"dimensions,omitempty"`
}

// textChunkParts returns the data line of a chat.completion.chunk of base holding a
// text delta ("data: " and its JSON), without the text's JSON string between them.
func textChunkParts(base oaiCompletion) (head, tail []byte) {
	id, _ := json.Marshal(base.ID)
	object, _ := json.Marshal(base.Object)
	model, _ := json.Marshal(base.Model)
	head = fmt.Appendf(nil, `data: {"id":%s,"object":%s,"created":%d,"model":%s,"choices":[{"index":0,"delta":{"content":`, id, object, base.Created, model)
	return head, []byte(`},"finish_reason":null}]}`)
}

func (s *Server) openAIModels(w http.ResponseWriter, r *http.Request) {
	type model struct {
		ID           string            `json:"id"`
		Object       string            `json:"object"`
		Created      int64             `json:"created"`
		OwnedBy      string            `json:"owned_by"`
		Capabilities modelCapabilities `json:"capabilities"`
	}
	list := []model{}
	if s.opts.Chat != nil {
		for _, id := range s.modelsOf(r.Context()) {
			list = append(list, model{id, "model", 0, s.opts.Provider, modelCapabilities{Chat: true, Vision: s.opts.Vision}})
		}
	}
	if s.opts.Notes != nil {
		space := s.opts.Notes.Embedder.Space()
		list = append(list, model{space.Model, "model", 0, "genai", modelCapabilities{Embeddings: true, Dimensions: space.Dimensions}})
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": list})
}

func (s *Server) openAIEmbeddings(w http.ResponseWriter, r *http.Request) {
	svc := s.notes(w, r)
	if svc == nil {
		return
	}
	type request struct {
		Model          string          `json:"model"`
		Input          json.RawMessage `json:"input"`
		EncodingFormat string          `json:"encoding_format"`
		Dimensions     *int            `json:"dimensions"`
		User           string          `json:"user"` // the end user, for the provider's abuse monitoring; changes nothing
	}
	var in request
	data, err := s.readBody(w, r)
	if err == nil {
		err = genai.DecodeJSON(data, &in)
	}
	if err == nil {
		err = genai.RefuseUnknown(data, "", &request{})
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	space := svc.Embedder.Space()
	var texts []string
	var one string
	if json.Unmarshal(in.Input, &one) == nil {
		texts = []string{one}
	} else if err := json.Unmarshal(in.Input, &texts); err != nil {
		s.writeError(w, r, genai.Errorf(genai.EINVALID, "input: expected a string or an array of strings"))
		return
	}
	switch {
	case len(texts) == 0:
		s.writeError(w, r, genai.Errorf(genai.EINVALID, "input: must not be empty"))
		return
	case len(texts) > 2048:
		s.writeError(w, r, genai.Errorf(genai.ETOOLARGE, "input: %d texts, at most 2048", len(texts)))
		return
	case in.EncodingFormat != "" && in.EncodingFormat != "float" && in.EncodingFormat != "base64":
		s.writeError(w, r, genai.Errorf(genai.EINVALID, "encoding_format: %q is not \"float\" or \"base64\"", in.EncodingFormat))
		return
	case in.Model != "" && in.Model != space.Model:
		s.writeError(w, r, genai.Errorf(genai.EINVALID, "model: this server embeds with %q (GET /v1/models lists it), not %q", space.Model, in.Model))
		return
	case in.Dimensions != nil && *in.Dimensions != space.Dimensions:
		// Cutting vectors short is only sound for models trained for it; the embedder's
		// dimensions are set by GENAI_EMBED_DIMENSIONS instead.
		s.writeError(w, r, genai.Errorf(genai.EINVALID, "dimensions: this server's embedder makes %d dimensions (set by GENAI_EMBED_DIMENSIONS); send %d or leave it out", space.Dimensions, space.Dimensions))
		return
	}
	for i, t := range texts {
		if strings.TrimSpace(t) == "" {
			s.writeError(w, r, genai.Errorf(genai.EINVALID, "input[%d]: must not be empty", i))
			return
		}
		if len(t) > genai.MaxNoteTextBytes {
			s.writeError(w, r, genai.Errorf(genai.ETOOLARGE, "input[%d]: over the limit of %d bytes", i, genai.MaxNoteTextBytes))
			return
		}
	}
	vectors, err := svc.Embedder.Embed(r.Context(), texts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	type item struct {
		Object    string `json:"object"`
		Index     int    `json:"index"`
		Embedding any    `json:"embedding"` // []float32, or base64 of little-endian float32s
	}
	items := make([]item, len(vectors))
	tokens := 0
	for i, v := range vectors {
		items[i] = item{"embedding", i, v}
		if in.EncodingFormat == "base64" {
			items[i].Embedding = base64Floats(v)
		}
		tokens += rag.EstimateTokens(texts[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "list", "data": items, "model": space.Model,
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens},
	})
}

// base64Floats encodes v as OpenAI's base64 embeddings are: little-endian float32s.
func base64Floats(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return base64.StdEncoding.EncodeToString(b)
}
