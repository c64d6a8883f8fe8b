package telemetry

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// LogHandler returns h adding to every record logged with a request's context the
// request's id (request_id, from requestID) and, when the request is traced, its trace
// and span ids (trace_id, span_id), so that each line of a request can be found by its id
// and its trace. A record that already has a request_id attribute keeps its own. Under
// WithGroup the ids land in the group, as slog puts every record attribute there.
func LogHandler(h slog.Handler, requestID func(context.Context) string) slog.Handler {
	return &logHandler{next: h, requestID: requestID}
}

type logHandler struct {
	next      slog.Handler
	requestID func(context.Context) string
}

func (h *logHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	var attrs []slog.Attr
	if id := h.requestID(ctx); id != "" && !hasAttr(r, "request_id") {
		attrs = append(attrs, slog.String("request_id", id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	if len(attrs) > 0 {
		r = r.Clone()
		r.AddAttrs(attrs...)
	}
	return h.next.Handle(ctx, r)
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logHandler{next: h.next.WithAttrs(attrs), requestID: h.requestID}
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{next: h.next.WithGroup(name), requestID: h.requestID}
}

func hasAttr(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}
