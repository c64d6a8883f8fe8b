package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"genai"
	"genai/rag"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// Without an endpoint, or with the SDK disabled, tracing is off and the decorators
// return what they are given: no span, no cost.
func TestSetupOff(t *testing.T) {
	for _, vars := range []map[string]string{
		{},
		{"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"},
	} {
		tel, err := Setup(context.Background(), env(vars), "test")
		if err != nil || tel.Enabled() {
			t.Fatalf("%v: enabled %v, err %v", vars, tel.Enabled(), err)
		}
		var r genai.Retriever = &rag.Retriever{}
		if got := tel.Retriever(r, "local"); got != r {
			t.Errorf("off: Retriever wrapped")
		}
		tools := []genai.ToolRunner{}
		if got := tel.Tools(tools); len(got) != 0 {
			t.Errorf("off: tools %v", got)
		}
		if err := tel.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	}
}

// A protocol genai does not export, or an endpoint that is no URL, is refused at the
// start with the variable named.
func TestSetupRefusesWhatItCannotExport(t *testing.T) {
	for vars, want := range map[*map[string]string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}:                              "OTEL_EXPORTER_OTLP_PROTOCOL",
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}:                                                                            "OTEL_EXPORTER_OTLP_ENDPOINT",
	} {
		_, err := Setup(context.Background(), env(*vars), "test")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: err %v, want one naming %s", *vars, err, want)
		}
	}
}

// Each line logged with a request's context carries the request's id and, when the
// request is traced, its trace and span ids; a line without a request has none.
func TestLogHandlerAddsRequestAndTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	type key struct{}
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil), func(ctx context.Context) string {
		id, _ := ctx.Value(key{}).(string)
		return id
	})).With("component", "test")
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("t").Start(context.WithValue(context.Background(), key{}, "req_1"), "op")
	log.InfoContext(ctx, "in a request")
	span.End()
	log.Info("no request")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines %q", lines)
	}
	var in, out map[string]any
	json.Unmarshal([]byte(lines[0]), &in)
	json.Unmarshal([]byte(lines[1]), &out)
	sc := span.SpanContext()
	if in["request_id"] != "req_1" || in["trace_id"] != sc.TraceID().String() || in["span_id"] != sc.SpanID().String() || in["component"] != "test" {
		t.Errorf("request line %v", in)
	}
	if _, ok := out["request_id"]; ok || out["trace_id"] != nil {
		t.Errorf("line outside a request %v", out)
	}
}
