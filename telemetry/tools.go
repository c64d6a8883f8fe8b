package telemetry

import (
	"context"
	"encoding/json"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"genai"
)

// Embedder returns e recording each call in a client span "embeddings MODEL"
// (gen_ai.operation.name embeddings) with the model of e's space, its dimensions and the
// number of texts. provider is a gen_ai.provider.name; "" leaves it out (the local
// embedder runs in process). With t off, Embedder returns e.
func (t *Telemetry) Embedder(e genai.Embedder, provider string) genai.Embedder {
	if !t.Enabled() || e == nil {
		return e
	}
	return &embedder{t: t, next: e, provider: provider}
}

type embedder struct {
	t        *Telemetry
	next     genai.Embedder
	provider string
}

func (e *embedder) Space() genai.EmbeddingSpace { return e.next.Space() }

func (e *embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	sp := e.next.Space()
	// The space's model is "provider:model"; the conventions want the model alone.
	model := sp.Model
	if _, m, ok := strings.Cut(model, ":"); ok && e.provider != "" {
		model = m
	}
	attrs := []attribute.KeyValue{
		semconv.GenAIOperationNameEmbeddings,
		semconv.GenAIRequestModel(model),
		semconv.GenAIEmbeddingsDimensionCount(sp.Dimensions),
		attribute.Int("genai.embeddings.inputs", len(texts)),
	}
	kind := trace.SpanKindInternal
	if e.provider != "" {
		attrs = append(attrs, semconv.GenAIProviderNameKey.String(e.provider))
		kind = trace.SpanKindClient
	}
	ctx, span := e.t.tracer.Start(ctx, "embeddings "+model, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
	defer span.End()
	vecs, err := e.next.Embed(ctx, texts)
	if err != nil {
		fail(span, err)
	}
	return vecs, err
}

// Retriever returns r recording each retrieval in a span "retrieval SOURCE"
// (gen_ai.operation.name retrieval, gen_ai.data_source.id source) with the number of
// hits asked for and found; the query text only when content is captured. With t off,
// Retriever returns r.
func (t *Telemetry) Retriever(r genai.Retriever, source string) genai.Retriever {
	if !t.Enabled() || r == nil {
		return r
	}
	return &retriever{t: t, next: r, source: source}
}

type retriever struct {
	t      *Telemetry
	next   genai.Retriever
	source string
}

func (r *retriever) Retrieve(ctx context.Context, q genai.RetrieveQuery) ([]genai.ChunkHit, error) {
	attrs := []attribute.KeyValue{
		semconv.GenAIOperationNameRetrieval,
		semconv.GenAIDataSourceID(r.source),
		attribute.Int("genai.retrieval.k", q.K),
	}
	if r.t.capture {
		attrs = append(attrs, semconv.GenAIRetrievalQueryText(q.Query))
	}
	ctx, span := r.t.tracer.Start(ctx, "retrieval "+r.source, trace.WithAttributes(attrs...))
	defer span.End()
	hits, err := r.next.Retrieve(ctx, q)
	if err != nil {
		fail(span, err)
		return nil, err
	}
	span.SetAttributes(attribute.Int("genai.retrieval.hits", len(hits)))
	return hits, nil
}

// KnowledgeBase returns kb with its retrievals recorded as Retriever records them, for a
// knowledge base whose retriever cannot be wrapped alone (Amazon Bedrock's). With t off,
// KnowledgeBase returns kb.
func (t *Telemetry) KnowledgeBase(kb genai.KnowledgeBase, source string) genai.KnowledgeBase {
	if !t.Enabled() || kb == nil {
		return kb
	}
	return knowledgeBase{kb, t.Retriever(kb, source)}
}

type knowledgeBase struct {
	genai.KnowledgeBase
	r genai.Retriever
}

func (k knowledgeBase) Retrieve(ctx context.Context, q genai.RetrieveQuery) ([]genai.ChunkHit, error) {
	return k.r.Retrieve(ctx, q)
}

// Tools returns tools each recording its calls in a span "execute_tool NAME"
// (gen_ai.operation.name execute_tool) with the tool's name, the call's id
// (genai.ToolCallID) and, when content is captured, its arguments and result; a failed
// call, or a result marked as an error, sets the span's status and error.type. With t
// off, Tools returns tools.
func (t *Telemetry) Tools(tools []genai.ToolRunner) []genai.ToolRunner {
	return t.wrapTools(tools, false, "")
}

// MCPTools is Tools for the tools of an MCP server, whose calls are client spans
// "tools/call NAME" with the MCP semantic conventions (mcp.method.name tools/call,
// network.transport pipe for a stdio server, tcp for a Streamable HTTP one) beside the
// GenAI ones. transport is "stdio" or "http".
func (t *Telemetry) MCPTools(tools []genai.ToolRunner, transport string) []genai.ToolRunner {
	return t.wrapTools(tools, true, transport)
}

func (t *Telemetry) wrapTools(tools []genai.ToolRunner, mcp bool, transport string) []genai.ToolRunner {
	if !t.Enabled() {
		return tools
	}
	out := make([]genai.ToolRunner, len(tools))
	for i, r := range tools {
		out[i] = &tool{t: t, next: r, mcp: mcp, transport: transport}
	}
	return out
}

type tool struct {
	t         *Telemetry
	next      genai.ToolRunner
	mcp       bool
	transport string
}

func (r *tool) Tool() genai.Tool { return r.next.Tool() }

func (r *tool) Run(ctx context.Context, input json.RawMessage) (*genai.ToolOutput, error) {
	name := r.next.Tool().Name
	attrs := []attribute.KeyValue{
		semconv.GenAIOperationNameExecuteTool,
		semconv.GenAIToolName(name),
		semconv.GenAIToolType("function"),
	}
	if id := genai.ToolCallID(ctx); id != "" {
		attrs = append(attrs, semconv.GenAIToolCallID(id))
	}
	if r.t.capture {
		attrs = append(attrs, semconv.GenAIToolCallArgumentsKey.String(string(input)))
	}
	spanName, kind := "execute_tool "+name, trace.SpanKindInternal
	if r.mcp {
		spanName, kind = "tools/call "+name, trace.SpanKindClient
		attrs = append(attrs, semconv.McpMethodNameToolsCall)
		if r.transport == "stdio" {
			attrs = append(attrs, semconv.NetworkTransportPipe)
		} else {
			attrs = append(attrs, semconv.NetworkTransportTCP)
		}
	}
	ctx, span := r.t.tracer.Start(ctx, spanName, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
	defer span.End()
	out, err := r.next.Run(ctx, input)
	switch {
	case err != nil:
		fail(span, err)
	case out != nil && out.IsError:
		span.SetAttributes(semconv.ErrorTypeKey.String("tool_error"))
		span.SetStatus(codes.Error, "the tool returned an error result")
	}
	if r.t.capture && out != nil {
		span.SetAttributes(semconv.GenAIToolCallResultKey.String(textOf(out.Content)))
	}
	return out, err
}
