// Package telemetry traces genai with OpenTelemetry and puts the request id and the trace
// id on every log line. It is the one package that imports the OpenTelemetry SDK: the
// HTTP middleware (Handler), decorators of the root interfaces that record each model
// call, embedding, retrieval and tool call with the GenAI semantic conventions (Chat,
// Embedder, Retriever, Tools, MCPTools), and the slog handler (LogHandler).
//
// Spans are exported over OTLP/HTTP (protobuf) to the endpoint of the standard
// variables. With no endpoint set, or OTEL_SDK_DISABLED=true, Setup returns a Telemetry
// that is off: its decorators return what they are given, so tracing costs nothing.
//
// Prompts, answers, tool arguments and results, and retrieval queries are never recorded
// unless OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true, the variable
// OpenTelemetry's GenAI instrumentations use.
package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
)

// scope names the instrumentation in every span.
const scope = "genai"

// Telemetry is the tracing of one process. The zero value, and a nil *Telemetry, are
// off.
type Telemetry struct {
	tp      *sdktrace.TracerProvider
	tracer  trace.Tracer
	capture bool // record prompts, answers and tool payloads
}

// Setup reads the OpenTelemetry variables from getenv and starts the exporter when an
// OTLP endpoint is set: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is) or
// OTEL_EXPORTER_OTLP_ENDPOINT (with /v1/traces appended). The protocol
// (OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL) must be http/protobuf, the default. The SDK
// itself reads OTEL_EXPORTER_OTLP_[TRACES_]HEADERS, _TIMEOUT, _COMPRESSION,
// OTEL_TRACES_SAMPLER[_ARG], OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES from the
// process environment. service.name defaults to "genai", service.version to version.
// Nothing is dialled here: spans are sent in batches in the background.
func Setup(ctx context.Context, getenv func(string) string, version string) (*Telemetry, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return &Telemetry{}, nil
	}
	endpoint := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
	if endpoint == "" {
		if base := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT")); base != "" {
			endpoint = strings.TrimSuffix(base, "/") + "/v1/traces"
		}
	}
	if endpoint == "" {
		return &Telemetry{}, nil
	}
	protoVar := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	protocol := strings.TrimSpace(getenv(protoVar))
	if protocol == "" {
		protoVar = "OTEL_EXPORTER_OTLP_PROTOCOL"
		protocol = strings.TrimSpace(getenv(protoVar))
	}
	if protocol != "" && protocol != "http/protobuf" {
		return nil, fmt.Errorf("%s: genai exports traces over http/protobuf only, got %q", protoVar, protocol)
	}
	if !strings.HasPrefix(endpoint, "http://") && !strings.HasPrefix(endpoint, "https://") {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:// or https:// URL, got %q", endpoint)
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
	}
	// Later options win: the variables override the defaults.
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName("genai"), semconv.ServiceVersion(version)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	// No WithSampler: the SDK takes OTEL_TRACES_SAMPLER and _ARG from the environment,
	// parent-based always-on by default, so a caller's sampled traceparent is followed.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Telemetry{
		tp:      tp,
		tracer:  tp.Tracer(scope, trace.WithInstrumentationVersion(version), trace.WithSchemaURL(semconv.SchemaURL)),
		capture: strings.EqualFold(strings.TrimSpace(getenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")), "true"),
	}, nil
}

// Enabled reports whether spans are recorded and exported.
func (t *Telemetry) Enabled() bool { return t != nil && t.tp != nil }

// Shutdown exports the spans still buffered and stops the exporter; ctx bounds the wait.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	return t.tp.Shutdown(ctx)
}

// Handler traces each request through next, in a server span named by the route pattern
// it matched ("POST /v1/chat/completions"), which route reports from the request's
// context once next has returned; a request no route matched is named by its method
// alone. A caller's W3C traceparent makes the span its child. The span ends when next
// returns, which for a stream is when the stream ends.
func (t *Telemetry) Handler(next http.Handler, route func(context.Context) string) http.Handler {
	if !t.Enabled() {
		return next
	}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		// otelhttp names the span from r.Pattern once the handler returns; the server's
		// own mux sets it on a copy of r, so it is copied back here.
		if p := route(r.Context()); p != "" {
			r.Pattern = p
			_, path, _ := strings.Cut(p, " ")
			trace.SpanFromContext(r.Context()).SetAttributes(semconv.HTTPRoute(path))
		}
	})
	return otelhttp.NewHandler(inner, "http",
		otelhttp.WithTracerProvider(t.tp),
		otelhttp.WithMeterProvider(noop.NewMeterProvider()), // metrics are Prometheus's (/metrics)
		otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})))
}
